/**
 * Writing an HTML report (mcutrain report, and --report on plan, profile, train). The report's modules
 * and their plotting library load only when a report is written: imported up front they would add half
 * a second to the start of every command.
 */
import type { ReportInputs } from '../report/report_html.ts';
import type { PlanReport } from '../project/plan_report.ts';
import { writeFileAtomic } from '../util/fs_atomic.ts';

export async function writeReport(file: string, inputs: ReportInputs): Promise<void> {
  const { reportHtml } = await import('../report/report_html.ts');
  writeFileAtomic(file, reportHtml(inputs));
}

/** plan --svg: the memory timeline alone, as an SVG file. */
export async function writeTimelineSvg(file: string, plan: PlanReport): Promise<void> {
  const { memoryTimelineSvg } = await import('../report/memory_timeline.ts');
  writeFileAtomic(file, memoryTimelineSvg(plan, { standalone: true }) + '\n');
}
