/* Harness for the integer engine's float boundary (train_int_engine.h). Reads lines from stdin:
 *   lr <float bits as unsigned>   -> "<lr_multiplier> <lr_shift>"
 *   loss <q16>                    -> "<float bits as unsigned>" */
#include <stdio.h>
#include <string.h>

#include "mcutrain/kernels/train_int_engine.h"

int main(void) {
  char what[8];
  long long v;
  while (scanf("%7s %lld", what, &v) == 2) {
    if (strcmp(what, "lr") == 0) {
      const uint32_t bits = (uint32_t)v;
      float lr;
      memcpy(&lr, &bits, sizeof lr);
      mt_sgd_int sgd = {123, 45, MT_ROUND_NEAREST, 1u};
      mt_sgd_int_set_lr(&sgd, &lr);
      printf("%ld %ld\n", (long)sgd.lr_multiplier, (long)sgd.lr_shift);
    } else {
      const float f = mt_loss_from_q16((int32_t)v);
      uint32_t bits;
      memcpy(&bits, &f, sizeof bits);
      printf("%lu\n", (unsigned long)bits);
    }
  }
  return 0;
}
