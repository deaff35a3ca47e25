/** Names of libgcc's soft-float routines (the __aeabi_ ones and the generic names they alias): an image or object with none does no float arithmetic. */
export const SOFT_FLOAT = /^__aeabi_(f|d|[uil]*2[fd])|^__(add|sub|mul|div|fix|float|extend|trunc|cmp|eq|ne|lt|le|gt|ge|unord)[a-z]*[sd]f/;
