// Type declarations of the Scanlet JavaScript SDK (src/scanlet.js).
// Field names follow the service's JSON (snake_case); SDK options are camelCase.

// Service data ---------------------------------------------------------------------------

/** `GET /v1/version` (public: the build and platform are admin-only, `GET /v1/admin/version`). */
export interface VersionInfo {
  name: "scanlet";
  version: string;
}

/** `GET /v1/health`. */
export interface HealthInfo {
  status: string;
  uptime_seconds: number;
  demo: boolean;
  workers: number;
  [key: string]: unknown;
}

export type Source = "flatbed" | "feeder" | "duplex";
export type ColorMode = "color" | "gray" | "bw";
export type JobState = "pending" | "running" | "completed" | "failed" | "cancelled" | "interrupted";
export type TaskState = "running" | "completed" | "failed" | "cancelled";
export type Scope = "scan" | "camera" | "upload" | "files";
export type ExportFormat = "pdf" | "tiff" | "jpeg" | "png" | "bmp" | "webp";
export type TiffCompression = "auto" | "g4" | "lzw" | "deflate" | "jpeg" | "none";

/** A scanner (`GET /v1/devices`). */
export interface Device {
  /** Stable id, e.g. "sane:test:0". */
  id: string;
  driver: string;
  name: string;
  vendor: string;
  model: string;
  type: string;
  label: string;
}

export interface NumericRange {
  min: number;
  max: number;
  step: number;
}

export interface ResolutionRange {
  min: number;
  max: number;
  step: number;
}

/** What one paper source of a scanner can do. */
export interface SourceCaps {
  source: Source;
  native_name: string;
  /** Colour modes and the bit depths each supports. */
  color_modes: Partial<Record<ColorMode, number[]>>;
  /** Discrete resolutions (dpi), if the device lists them. */
  resolutions: number[];
  resolution_range: ResolutionRange | null;
  max_width_mm: number;
  max_height_mm: number;
  /** Standard paper sizes that fit. */
  paper_sizes: string[];
  brightness: NumericRange | null;
  contrast: NumericRange | null;
}

/** A driver option (experts; `raw_options` of a scan). */
export interface RawOption {
  name: string;
  title: string;
  description: string;
  type: "bool" | "int" | "fixed" | "string" | "button" | "group";
  unit: string;
  constraint: unknown[] | Record<string, number> | null;
  value: unknown;
  active: boolean;
  settable: boolean;
}

/** `GET /v1/devices/{id}/capabilities`. */
export interface Capabilities {
  device_id: string;
  sources: SourceCaps[];
  raw_options: RawOption[];
}

/** Scan area in millimetres. */
export interface Area {
  left?: number;
  top?: number;
  width: number;
  height: number;
}

/** Done to each page as it is stored. */
export interface PageProcessing {
  drop_blank?: boolean;
  blank_sensitivity?: number;
  deskew?: boolean;
  barcodes?: boolean;
  barcode_formats?: string[] | null;
}

/** The body of `POST /v1/jobs`. */
export interface ScanSettings {
  device: string;
  source?: Source;
  mode?: ColorMode;
  bit_depth?: number | null;
  resolution?: number;
  area?: Area | null;
  /** e.g. "A4", "Letter"; ignored if area is set. */
  paper_size?: string | null;
  /** A page count or "all" (default 1 on flatbed, all on feeder). */
  pages?: number | "all" | null;
  brightness?: number | null;
  contrast?: number | null;
  compression?: "auto" | "jpeg" | "lossless";
  jpeg_quality?: number;
  raw_options?: Record<string, unknown>;
  /** Append to this document (default: a new one). */
  document_id?: string | null;
  processing?: PageProcessing;
  /** A session id; left out, the client's own session is used. */
  session?: string | null;
}

/** A job's or task's error. */
export interface ErrorInfo {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

/** A scan job's status. */
export interface JobInfo {
  id: string;
  state: JobState;
  settings: Omit<ScanSettings, "session">;
  document_id: string;
  pages_stored: number;
  created: string;
  updated: string;
  error?: ErrorInfo | null;
}

/** A stored page. */
export interface PageInfo {
  id: string;
  document_id: string;
  /** 0-based position in its document. */
  index: number;
  width: number;
  height: number;
  dpi: number;
  bit_depth: number;
  mode: ColorMode;
  /** How the original is stored. */
  format: "jpeg" | "png";
  bytes: number;
  source?: Source | null;
  job_id?: string | null;
  created: string;
  tags: string[];
  metadata: Record<string, unknown>;
  /** Edits applied; 0 = as scanned or imported. */
  version: number;
}

/** A document in the buffer. */
export interface DocumentInfo {
  id: string;
  name: string;
  created: string;
  page_count: number;
  tags: string[];
  metadata: Record<string, unknown>;
}

export interface DocumentFields {
  name?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
}

export interface PageFields {
  tags?: string[];
  metadata?: Record<string, unknown>;
}

/** A processing task (OCR, upload). */
export interface TaskInfo {
  id: string;
  kind: string;
  state: TaskState;
  done: number;
  total: number;
  unit: "items" | "bytes" | string;
  rate?: number | null;
  created: string;
  updated: string;
  error?: ErrorInfo | null;
  result?: Record<string, unknown> | null;
  /** Media type of the result file, if any. */
  file?: string | null;
}

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A barcode found on a page. */
export interface Barcode {
  text: string;
  raw_base64: string;
  /** zxing-cpp format name, e.g. "QRCode", "EAN13", "Code128". */
  format: string;
  symbology: string;
  symbology_identifier: string;
  content_type: string;
  ec_level: string;
  /** The symbol's corners: its own top-left, top-right, bottom-right, bottom-left. */
  position: Point[];
  box: Box;
  /** Degrees clockwise, 0-359. */
  orientation: number;
  extra?: Record<string, string | number | boolean>;
}

export interface BlankAnswer {
  page_id: string;
  blank: boolean;
  score: number;
  threshold: number;
  sensitivity: number;
}

/** Pixel box [left, top, right, bottom], right/bottom exclusive. */
export type PixelBox = [number, number, number, number];
export type FillColor = "white" | "black" | "auto" | number | [number, number, number];

/** One page edit (`POST /v1/pages/{id}/edit`). Angles are counter-clockwise degrees. */
export type Edit =
  | { op: "rotate"; angle: number; fill?: FillColor }
  | { op: "flip" }
  | { op: "mirror" }
  | { op: "crop"; box: PixelBox }
  | { op: "fill"; box: PixelBox; color?: FillColor }
  | { op: "resize"; width?: number; height?: number }
  | { op: "dpi"; dpi: number; resample?: boolean }
  | { op: "gray" }
  | { op: "bw"; method?: "threshold" | "otsu" | "adaptive"; threshold?: number; block_size?: number | null; offset?: number }
  | { op: "invert" }
  | { op: "adjust"; brightness?: number; contrast?: number }
  | { op: "despeckle"; size?: number | null }
  | { op: "deskew"; max_angle?: number; fill?: FillColor; min_confidence?: number }
  | { op: "autocrop"; margin?: number }
  | { op: "orient"; min_confidence?: number };

export interface EditOptions {
  /** JPEG quality of the result (1-95). */
  quality?: number;
  output?: "auto" | "jpeg" | "png";
}

export interface EditResult {
  page: PageInfo;
  /** steps (what each edit found), lossless, format_reason. */
  report: Record<string, unknown>;
}

/** PDF/TIFF document metadata. */
export interface DocumentMetadata {
  title?: string | null;
  author?: string | null;
  subject?: string | null;
  keywords?: string[];
  creation_date?: string | null;
}

/** Export options as the upload route takes them (snake_case or camelCase keys). */
export interface ExportSettings {
  quality?: number;
  progressive?: boolean;
  reencode_jpeg?: boolean;
  webp_lossless?: boolean;
  tiff_compression?: TiffCompression;
  pdf_a?: boolean;
  metadata?: DocumentMetadata;
  reencodeJpeg?: boolean;
  webpLossless?: boolean;
  tiffCompression?: TiffCompression;
  pdfA?: boolean;
}

export interface ExportOptions {
  format?: ExportFormat;
  /** Page ids, in this order (default: every page). */
  pages?: string[];
  /** Same as `pages`. */
  pageIds?: string[];
  /** JPEG/WebP quality (1-100, default 90). */
  quality?: number;
  progressive?: boolean;
  reencodeJpeg?: boolean;
  webpLossless?: boolean;
  tiffCompression?: TiffCompression;
  /** PDF/A-2b. */
  pdfA?: boolean;
  title?: string;
  author?: string;
  subject?: string;
  keywords?: string[] | string;
  creationDate?: Date | string;
}

export interface DownloadOptions extends ExportOptions {
  /** Default: the name the service suggests ("<document name>.pdf"). */
  fileName?: string;
}

export interface UploadOptions {
  /** https:// (or ftps://) target; a page may upload to its own origin or admin-allowed targets. */
  url: string;
  method?: "POST" | "PUT";
  format?: ExportFormat;
  /** Export options. */
  options?: ExportSettings;
  pageIds?: string[];
  /** Multipart field of the file (default "file"). */
  fieldName?: string;
  /** Default "<document name>.<ext>". */
  fileName?: string;
  /** Other multipart fields, sent before the file. */
  fields?: Record<string, string>;
  headers?: Record<string, string>;
  ftp?: { user?: string; password?: string };
}

export interface OcrOptions {
  /** Installed languages, e.g. "eng+deu" (default "eng"). */
  lang?: string;
  output?: "pdf" | "pdfa" | "text" | "hocr";
  pageIds?: string[];
  metadata?: DocumentMetadata;
}

export interface SeparationRule {
  kind: "barcode" | "patch" | "blank";
  value?: string | null;
  pattern?: string | null;
  formats?: string[] | null;
  patches?: Array<"1" | "2" | "3" | "4" | "6" | "T">;
  keep_separators?: boolean;
}

export interface ImageOptions {
  width?: number;
  height?: number;
  format?: "jpeg" | "png";
  quality?: number;
}

export interface PairOptions {
  /** Default ["scan"]. */
  scopes?: Scope[];
  /** Shown on the consent page (the site chose it; the origin is what counts). */
  appName?: string;
  /** Called with the code to show and the consent page's URL while the user decides. */
  onCode?: (code: string, consentUrl: string) => void;
  /** Default true: `window.open(consentUrl)`. False: open it yourself on a click. */
  openConsent?: boolean;
  /** Poll interval in ms (default 1000). */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface PairResult {
  token: string;
  scopes: string[];
  origin: string;
  /** Unix time (seconds) when the token expires. */
  expiresAt: number | null;
}

export interface ConnectOptions {
  /** Default: the Scanlet that served this module, then http://127.0.0.1:18622, https://127.0.0.1:18623. */
  urls?: string[];
  /** A token kept from an earlier pairing. */
  token?: string | null;
  /** e.g. "0.1.0": an older service rejects with VersionError. */
  minVersion?: string;
  /** Per probe, default 2000. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

// Errors ---------------------------------------------------------------------------------

export interface ScanletErrorInfo {
  code?: string;
  status?: number | null;
  title?: string;
  detail?: string;
  guidance?: string;
  problem?: Record<string, unknown> | null;
  retryAfter?: number | null;
  cause?: unknown;
}

/** Every SDK error. `code` is the service's stable code (docs/api.md). */
export class ScanletError extends Error {
  constructor(message: string, info?: ScanletErrorInfo);
  code: string;
  /** HTTP status; null when the error did not come from an HTTP answer. */
  status: number | null;
  title: string;
  /** What happened (the problem's `detail`). */
  detail: string;
  /** A sentence a page can show its user. */
  guidance: string;
  /** The whole problem+json body (or the job's/task's error object). */
  problem: Record<string, unknown> | null;
  /** Seconds to wait before retrying, when the service said so. */
  retryAfter: number | null;
  /** The offending field of a validation error. */
  field: string | null;
  /** Allowed values of that field, when known. */
  allowed: unknown;
}

/** code "service_not_running": no URL answered. */
export class NotRunningError extends ScanletError {
  constructor(urls: string[], cause?: unknown);
  code: "service_not_running";
  urls: string[];
}

/** code "local_network_permission": the browser denies this site local network access. */
export class LocalNetworkPermissionError extends ScanletError {
  constructor(urls: string[], permission: string);
  code: "local_network_permission";
  urls: string[];
  permission: string;
}

/** code "version_mismatch". */
export class VersionError extends ScanletError {
  constructor(serviceVersion: string, minVersion: string);
  code: "version_mismatch";
  serviceVersion: string;
  minVersion: string;
}

/** codes "pairing_denied", "pairing_expired", "pairing_disabled", "pairing_not_found", "pairing_error". */
export class PairingError extends ScanletError {
  constructor(message: string, info?: ScanletErrorInfo);
}

/** code "network_error": the service runs but the browser blocked the answer (not paired?). */
export class NetworkError extends ScanletError {
  constructor(message: string, cause?: unknown);
  code: "network_error";
}

// Operations -----------------------------------------------------------------------------

export interface ScanPageEventDetail {
  page: PageInfo;
  pagesStored: number;
  pageLimit: number | null;
}

export interface ScanProgressEventDetail {
  pageIndex: number;
  /** 0..1 */
  fraction: number;
  pagesStored: number;
  pageLimit: number | null;
}

export interface ScanJobEventMap {
  page: CustomEvent<ScanPageEventDetail>;
  progress: CustomEvent<ScanProgressEventDetail>;
  state: CustomEvent<{ job: JobInfo }>;
  pagedropped: CustomEvent<Record<string, unknown>>;
}

/** A running scan. `await job` gives the final JobInfo (rejects with ScanletError when it failed). */
export class ScanJob extends EventTarget implements PromiseLike<JobInfo> {
  private constructor();
  /** Set once the service created the job. */
  id: string | null;
  documentId: string | null;
  /** The latest JobInfo. */
  info: JobInfo | null;
  /** Resolves once `POST /v1/jobs` answered. */
  ready: Promise<JobInfo>;
  /** The final JobInfo (completed or cancelled); rejects when the job failed. */
  done: Promise<JobInfo>;
  /** The pages stored so far. */
  pages: PageInfo[];
  then<R1 = JobInfo, R2 = never>(
    onfulfilled?: ((value: JobInfo) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2>;
  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<JobInfo | R>;
  finally(onfinally?: (() => void) | null): Promise<JobInfo>;
  /** Cancel; stored pages are kept. */
  cancel(): Promise<void>;
  addEventListener<K extends keyof ScanJobEventMap>(type: K, listener: (event: ScanJobEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ScanJobEventMap>(type: K, listener: (event: ScanJobEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export interface TaskProgressEventDetail {
  done: number;
  total: number;
  unit: "items" | "bytes" | string;
  /** Units per second, recently. */
  rate: number | null;
}

export interface TaskEventMap {
  progress: CustomEvent<TaskProgressEventDetail>;
  state: CustomEvent<{ task: TaskInfo }>;
}

/** A processing task (OCR, upload). `await task` gives the final TaskInfo. */
export class Task extends EventTarget implements PromiseLike<TaskInfo> {
  private constructor();
  id: string | null;
  info: TaskInfo | null;
  ready: Promise<TaskInfo>;
  done: Promise<TaskInfo>;
  then<R1 = TaskInfo, R2 = never>(
    onfulfilled?: ((value: TaskInfo) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2>;
  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<TaskInfo | R>;
  finally(onfinally?: (() => void) | null): Promise<TaskInfo>;
  cancel(): Promise<void>;
  /** The file the completed task produced (waits for it). */
  file(): Promise<Blob>;
  addEventListener<K extends keyof TaskEventMap>(type: K, listener: (event: TaskEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof TaskEventMap>(type: K, listener: (event: TaskEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// Client ---------------------------------------------------------------------------------

export interface ClientEventMap {
  page: CustomEvent<{ page: PageInfo; job: ScanJob }>;
  job: CustomEvent<JobInfo>;
  task: CustomEvent<TaskInfo>;
}

/** `deviceschange`: a device listing found scanners added or gone (device ids). */
export interface DevicesChangedEventDetail {
  added: string[];
  removed: string[];
}

export interface ClientEventMap {
  deviceschange: CustomEvent<DevicesChangedEventDetail>;
}

/** A connection to one Scanlet service. */
export class Client extends EventTarget {
  constructor(baseUrl: string, version: VersionInfo, token?: string | null);
  baseUrl: string;
  version: VersionInfo;
  token: string | null;
  /** The session id, once `WS /v1/session` is open. */
  sessionId: string | null;
  setToken(token: string | null): void;
  pair(options?: PairOptions): Promise<PairResult>;
  health(): Promise<HealthInfo>;
  /** This client's session id (opens WS /v1/session on first use); null without one. */
  session(): Promise<string | null>;
  close(): void;

  /** From the last device listing; `refresh: true` waits for a new one. */
  devices(options?: { refresh?: boolean }): Promise<Device[]>;
  /** Open the session so `deviceschange` events arrive; whether it is open. */
  watchDevices(): Promise<boolean>;
  addEventListener<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  device(deviceId: string): Promise<Device>;
  capabilities(deviceId: string, options?: { session?: string | boolean }): Promise<Capabilities>;

  scan(settings: ScanSettings): ScanJob;
  watchJob(jobId: string): ScanJob;
  job(jobId: string): Promise<JobInfo>;
  jobs(): Promise<JobInfo[]>;

  documents(): Promise<DocumentInfo[]>;
  createDocument(fields?: DocumentFields): Promise<DocumentInfo>;
  document(documentId: string): Promise<DocumentInfo>;
  updateDocument(documentId: string, patch: DocumentFields): Promise<DocumentInfo>;
  deleteDocument(documentId: string): Promise<void>;
  split(documentId: string, rule: SeparationRule, options?: { namePrefix?: string }): Promise<DocumentInfo[]>;

  pages(documentId: string): Promise<PageInfo[]>;
  page(pageId: string): Promise<PageInfo>;
  updatePage(pageId: string, patch: PageFields): Promise<PageInfo>;
  deletePage(pageId: string): Promise<void>;
  deletePages(documentId: string, pageIds: string[]): Promise<void>;
  clearDocument(documentId: string): Promise<void>;
  clearBuffer(): Promise<void>;
  movePages(documentId: string, pageIds: string[], toIndex: number): Promise<PageInfo[]>;
  setPageOrder(documentId: string, pageIds: string[]): Promise<PageInfo[]>;
  importFile(documentId: string, file: Blob, options?: { dpi?: number; password?: string }): Promise<PageInfo[]>;

  pageImage(pageId: string, options?: ImageOptions): Promise<Blob>;
  pageImageUrl(pageId: string, options?: ImageOptions): Promise<string>;
  thumbnailUrl(pageId: string, size?: number): Promise<string>;

  editPage(pageId: string, edits: Edit[], options?: EditOptions): Promise<EditResult>;
  /** Counter-clockwise degrees: 90 turns left, -90 (or 270) turns right. */
  rotate(pageId: string, angle: number): Promise<PageInfo>;
  rotateLeft(pageId: string): Promise<PageInfo>;
  rotateRight(pageId: string): Promise<PageInfo>;
  crop(pageId: string, box: PixelBox): Promise<PageInfo>;
  undo(pageId: string, options?: { toOriginal?: boolean }): Promise<PageInfo>;

  isBlank(pageId: string, options?: { sensitivity?: number }): Promise<BlankAnswer>;
  barcodes(pageId: string, options?: { formats?: string[]; region?: Box | [number, number, number, number] }): Promise<Barcode[]>;
  documentBarcodes(documentId: string, options?: { formats?: string[] }): Promise<Record<string, Barcode[]>>;
  ocrLanguages(): Promise<string[]>;
  ocr(documentId: string, options?: OcrOptions): Task;

  export(documentId: string, options?: ExportOptions): Promise<Blob>;
  /** Returns the file name used. */
  download(documentId: string, options?: DownloadOptions): Promise<string>;
  upload(documentId: string, options: UploadOptions): Task;

  task(taskId: string): Promise<TaskInfo>;
  tasks(): Promise<TaskInfo[]>;
  watchTask(taskId: string): Task;

  addEventListener<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// Functions ------------------------------------------------------------------------------

export const SDK_VERSION: string;
export const DEFAULT_URLS: readonly string[];

/** Find the Scanlet service on this computer and check its version. */
export function connect(options?: ConnectOptions): Promise<Client>;

/** Whether `version` is at least `minimum` (dotted numbers; build suffixes ignored). */
export function versionAtLeast(version: string, minimum: string): boolean;
