/**
 * A run's outputs come in two sections: the files of OUTPUT_FOLDER (as oSparc has them), and
 * the files the program wrote beside its code, in its project folder (`plt.savefig("a.png")`).
 * The server lists both in one answer; a file of the second section is reached with
 * `?section=project`, and the zip of all outputs holds them under `project/`.
 */

import { IOutputFile } from './outputTree';
import { RunnerApi } from './runnerApi';

/** Which section a file is in. */
export type OutputSection = 'outputs' | 'project';

/** How every face names the second section. */
export const PROJECT_SECTION_LABEL = 'Written beside the code (in the project folder)';

/** `GET /runs/{id}/outputs`, both sections. */
export interface IOutputListing {
  files: IOutputFile[];
  total_size: number;
  project_files: IOutputFile[];
  project_total_size: number;
  /** The folder of the zip (and of copies) that holds `project_files`. */
  project_zip_folder: string;
}

/** Both sections of a run's outputs (a server without the second one lists it empty). */
export async function listRunOutputs(api: RunnerApi, runId: string): Promise<IOutputListing> {
  const listing = (await api.listOutputs(runId)) as Partial<IOutputListing> &
    Pick<IOutputListing, 'files' | 'total_size'>;
  return {
    files: listing.files,
    total_size: listing.total_size,
    project_files: listing.project_files ?? [],
    project_total_size: listing.project_total_size ?? 0,
    project_zip_folder: listing.project_zip_folder ?? 'project'
  };
}

/** The API path of one file of a run, each part of its path encoded. */
export function sectionFilePath(runId: string, path: string): string {
  const parts = path.split('/').map(encodeURIComponent).join('/');
  return `runs/${encodeURIComponent(runId)}/outputs/${parts}`;
}

/** The query that names a section (none for OUTPUT_FOLDER, whose URLs stay as they were). */
function sectionQuery(section: OutputSection, download: boolean): Record<string, string> {
  return {
    ...(section === 'project' ? { section: 'project' } : {}),
    ...(download ? { download: '1' } : {})
  };
}

/** The URL of one file of a section (inline, or as a download), for links and images. */
export function sectionFileUrl(
  api: RunnerApi,
  runId: string,
  path: string,
  section: OutputSection,
  download = false
): string {
  return api.linkUrl(sectionFilePath(runId, path), sectionQuery(section, download));
}

/**
 * The first `limit` bytes of a file of a section as text (a preview never loads a whole
 * file); `cut` says whether the file was longer.
 */
export function sectionFileText(
  api: RunnerApi,
  runId: string,
  path: string,
  section: OutputSection,
  limit = 256 * 1024
): Promise<{ text: string; cut: boolean }> {
  return api.outputText(runId, path, limit, section);
}
