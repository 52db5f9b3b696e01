// Uses every declaration of scanlet.d.ts so that `tsc --noEmit` checks them (never run).
// Imported through the package's own name, so package.json "exports" is checked too.

import {
  Client,
  connect,
  DEFAULT_URLS,
  LocalNetworkPermissionError,
  NetworkError,
  NotRunningError,
  PairingError,
  SDK_VERSION,
  ScanJob,
  ScanletError,
  Task,
  VersionError,
  versionAtLeast,
  type Barcode,
  type BlankAnswer,
  type Capabilities,
  type Device,
  type DocumentInfo,
  type Edit,
  type EditResult,
  type HealthInfo,
  type JobInfo,
  type PageInfo,
  type PairResult,
  type ScanSettings,
  type TaskInfo,
} from "@scanlet/sdk";

async function everything(signal: AbortSignal): Promise<void> {
  const version: string = SDK_VERSION;
  const urls: readonly string[] = DEFAULT_URLS;
  const newer: boolean = versionAtLeast("0.2.0", "0.1.0");
  void version; void urls; void newer;

  let client: Client;
  try {
    client = await connect({ urls: [...DEFAULT_URLS], token: null, minVersion: "0.1.0",
      timeoutMs: 1500, signal });
  } catch (error) {
    if (error instanceof NotRunningError) {
      const why: string = error.guidance;
      const tried: string[] = error.urls;
      void why; void tried;
    } else if (error instanceof LocalNetworkPermissionError) {
      const name: string = error.permission;
      void name;
    } else if (error instanceof VersionError) {
      const have: string = error.serviceVersion;
      const want: string = error.minVersion;
      void have; void want;
    }
    throw error;
  }
  const base: string = client.baseUrl;
  const serviceVersion: string = client.version.version;
  void base; void serviceVersion;

  client.setToken(null);
  const paired: PairResult = await client.pair({
    scopes: ["scan", "upload", "files"], appName: "Types", openConsent: false, pollMs: 500,
    signal, onCode: (code: string, consentUrl: string) => { void code; void consentUrl; },
  });
  const token: string = paired.token;
  const expires: number | null = paired.expiresAt;
  void expires;
  client.setToken(token);
  const token2: string | null = client.token;
  void token2;

  const health: HealthInfo = await client.health();
  const uptime: number = health.uptime_seconds;
  void uptime;
  const session: string | null = await client.session();
  void session;

  const devices: Device[] = await client.devices();
  const device: Device = await client.device(devices[0].id);
  const caps: Capabilities = await client.capabilities(device.id, { session: true });
  const feeder = caps.sources.find((s) => s.source === "feeder");
  const depths: number[] | undefined = feeder?.color_modes.gray;
  void depths;

  const settings: ScanSettings = {
    device: device.id, source: "feeder", mode: "gray", resolution: 75, pages: 3,
    paper_size: "A4", processing: { drop_blank: true, barcodes: true },
  };
  const job: ScanJob = client.scan(settings);
  job.addEventListener("page", (event) => {
    const page: PageInfo = event.detail.page;
    const stored: number = event.detail.pagesStored;
    void page; void stored;
  });
  job.addEventListener("progress", (event) => {
    const fraction: number = event.detail.fraction;
    void fraction;
  });
  job.addEventListener("state", (event) => {
    const state: JobInfo["state"] = event.detail.job.state;
    void state;
  });
  client.addEventListener("page", (event) => {
    const fromJob: ScanJob = event.detail.job;
    void fromJob;
  });
  client.addEventListener("job", (event) => {
    const info: JobInfo = event.detail;
    void info;
  });
  client.addEventListener("task", (event) => {
    const info: TaskInfo = event.detail;
    void info;
  });
  const created: JobInfo = await job.ready;
  const finished: JobInfo = await job;
  const finishedToo: JobInfo = await job.done;
  const jobId: string | null = job.id;
  const soFar: PageInfo[] = job.pages;
  void created; void finishedToo; void jobId; void soFar;
  await job.cancel();
  await job.catch(() => null).finally(() => undefined);
  const again: ScanJob = client.watchJob(finished.id);
  void again;
  const listedJobs: JobInfo[] = await client.jobs();
  const oneJob: JobInfo = await client.job(listedJobs[0].id);
  void oneJob;

  const docs: DocumentInfo[] = await client.documents();
  const doc: DocumentInfo = await client.createDocument({ name: "Invoices", tags: ["a"],
    metadata: { k: 1 } });
  const same: DocumentInfo = await client.document(doc.id);
  const renamed: DocumentInfo = await client.updateDocument(same.id, { name: "B" });
  void docs; void renamed;
  const parts: DocumentInfo[] = await client.split(doc.id, { kind: "blank" }, { namePrefix: "p" });
  void parts;

  const pages: PageInfo[] = await client.pages(finished.document_id);
  const ids = pages.map((p) => p.id);
  const page: PageInfo = await client.page(ids[0]);
  const tagged: PageInfo = await client.updatePage(page.id, { tags: ["x"], metadata: {} });
  void tagged;
  const moved: PageInfo[] = await client.movePages(finished.document_id, [ids[2]], 0);
  const ordered: PageInfo[] = await client.setPageOrder(finished.document_id, ids);
  void moved; void ordered;
  await client.deletePages(finished.document_id, [ids[1]]);
  await client.deletePage(ids[0]);
  const imported: PageInfo[] = await client.importFile(doc.id, new Blob([]), { dpi: 300,
    password: "x" });
  void imported;

  const image: Blob = await client.pageImage(page.id, { width: 800, format: "png", quality: 80 });
  const imageUrl: string = await client.pageImageUrl(page.id, { height: 600 });
  const thumb: string = await client.thumbnailUrl(page.id);
  const thumb2: string = await client.thumbnailUrl(page.id, 120);
  void image; void imageUrl; void thumb; void thumb2;

  const edits: Edit[] = [{ op: "rotate", angle: 90 }, { op: "crop", box: [0, 0, 10, 10] },
    { op: "bw", method: "adaptive", block_size: 31 }, { op: "deskew" }, { op: "orient" }];
  const edited: EditResult = await client.editPage(page.id, edits, { quality: 90,
    output: "jpeg" });
  void edited.report;
  const turned: PageInfo = await client.rotate(page.id, 90);
  const left: PageInfo = await client.rotateLeft(page.id);
  const right: PageInfo = await client.rotateRight(page.id);
  const cropped: PageInfo = await client.crop(page.id, [1, 2, 30, 40]);
  const undone: PageInfo = await client.undo(page.id, { toOriginal: true });
  void turned; void left; void right; void cropped; void undone;

  const blank: BlankAnswer = await client.isBlank(page.id, { sensitivity: 60 });
  const codes: Barcode[] = await client.barcodes(page.id, { formats: ["QRCode"],
    region: { left: 0, top: 0, width: 100, height: 100 } });
  const codes2: Barcode[] = await client.barcodes(page.id, { region: [0, 0, 50, 50] });
  const byPage: Record<string, Barcode[]> = await client.documentBarcodes(doc.id,
    { formats: ["EAN13"] });
  const langs: string[] = await client.ocrLanguages();
  void blank; void codes; void codes2; void byPage; void langs;

  const ocr: Task = client.ocr(doc.id, { lang: "eng", output: "pdf", pageIds: ids,
    metadata: { title: "T" } });
  ocr.addEventListener("progress", (event) => {
    const done: number = event.detail.done;
    const rate: number | null = event.detail.rate;
    void done; void rate;
  });
  ocr.addEventListener("state", (event) => {
    const info: TaskInfo = event.detail.task;
    void info;
  });
  const accepted: TaskInfo = await ocr.ready;
  const ocrDone: TaskInfo = await ocr;
  const searchable: Blob = await ocr.file();
  await ocr.cancel();
  void accepted; void ocrDone; void searchable;

  const pdf: Blob = await client.export(doc.id, { format: "pdf", pages: ids, pdfA: true,
    title: "T", keywords: ["a", "b"], creationDate: new Date() });
  const tiff: Blob = await client.export(doc.id, { format: "tiff", tiffCompression: "g4" });
  const name: string = await client.download(doc.id, { format: "pdf", fileName: "scan.pdf" });
  void pdf; void tiff; void name;

  const upload: Task = client.upload(doc.id, { url: "https://example.com/in", method: "POST",
    format: "pdf", fields: { a: "b" }, headers: { "X-Id": "1" }, fileName: "scan.pdf",
    fieldName: "file", pageIds: ids, options: { pdf_a: true, quality: 80 } });
  const uploaded: TaskInfo = await upload;
  const result = uploaded.result;
  void result;
  const tasks: TaskInfo[] = await client.tasks();
  const oneTask: TaskInfo = await client.task(tasks[0].id);
  const watched: Task = client.watchTask(oneTask.id);
  void watched;

  await client.clearDocument(doc.id);
  await client.deleteDocument(doc.id);
  await client.clearBuffer();
  client.close();

  try {
    await client.document("doc_missing");
  } catch (error) {
    if (error instanceof PairingError || error instanceof NetworkError) throw error;
    if (error instanceof ScanletError) {
      const code: string = error.code;
      const status: number | null = error.status;
      const detail: string = error.detail;
      const title: string = error.title;
      const retry: number | null = error.retryAfter;
      const field: string | null = error.field;
      const problem: Record<string, unknown> | null = error.problem;
      void code; void status; void detail; void title; void retry; void field; void problem;
    }
  }
  const made = new ScanletError("x", { code: "y", status: 400 });
  void made;
  const direct = new Client("http://127.0.0.1:18622",
    { name: "scanlet", version: "0.1.0" });
  void direct;
}

void everything;
