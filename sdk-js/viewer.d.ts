// Type declarations for `<scanlet-viewer>` (sdk-js/src/viewer.js, "@scanlet/sdk/viewer").

import type { PageInfo, PixelBox } from "./scanlet.js";

/**
 * What the viewer uses of its client. A `Client` from `connect()` has all of it; any object
 * with these methods (and "page" events with `detail.page`) works too.
 */
export interface ViewerClient extends EventTarget {
  pages(documentId: string): Promise<PageInfo[]>;
  thumbnailUrl(pageId: string, size?: number): Promise<string>;
  pageImageUrl(pageId: string, options?: { width?: number; height?: number }): Promise<string>;
  /** Counter-clockwise degrees (90 turns left). */
  rotate(pageId: string, angle: number): Promise<PageInfo | { page: PageInfo }>;
  crop(pageId: string, box: PixelBox): Promise<PageInfo | { page: PageInfo }>;
  deletePages(documentId: string, pageIds: string[]): Promise<unknown>;
  /** Used when present (robust while a scan adds pages), else setPageOrder. */
  movePages?(documentId: string, pageIds: string[], toIndex: number): Promise<PageInfo[] | void>;
  setPageOrder?(documentId: string, pageIds: string[]): Promise<PageInfo[] | void>;
}

/** A crop rectangle in fractions (0..1) of the page: left, top, right, bottom. */
export interface CropRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The events of `<scanlet-viewer>` (bubbling, composed CustomEvents). */
export interface ScanletViewerEventMap extends Omit<HTMLElementEventMap, "error"> {
  /** The selection changed (ids in the order shown). */
  selectionchange: CustomEvent<{ pageIds: string[] }>;
  /** The service accepted a new page order (all ids, in the new order). */
  orderchange: CustomEvent<{ pageIds: string[] }>;
  /** Pages were deleted on the service. */
  pagedeleted: CustomEvent<{ pageIds: string[] }>;
  /** A page was rotated or cropped; `page` is the service's answer (new `version`). */
  pageedited: CustomEvent<{ page: PageInfo }>;
  /** A page of the shown document arrived through the client's "page" event (live scan). */
  pageadded: CustomEvent<{ page: PageInfo }>;
  /** The page in the large view changed. */
  currentpagechange: CustomEvent<{ pageId: string }>;
  /** The zoom changed (1 = the page fits the view). */
  zoomchange: CustomEvent<{ zoom: number }>;
  /** The strings for `lang` were loaded (or English, when that language has none). */
  stringsloaded: CustomEvent<{ lang: string }>;
  /**
   * A client call failed (a ScanletError from the SDK). Cancelable: preventDefault() keeps
   * the viewer from showing its own message.
   */
  error: CustomEvent<{ error: unknown }>;
}

export declare class ScanletViewer extends HTMLElement {
  static readonly observedAttributes: string[];

  /** The client the viewer works through. */
  client: ViewerClient | null;
  /** The document shown (attribute `document-id`); setting it (re)loads the pages. */
  documentId: string | null;
  /** Page ids in the order shown. */
  readonly pageIds: string[];
  /** The pages shown (copies of the service's PageInfo), in order. */
  readonly pages: PageInfo[];
  /** Ids of the selected pages, in the order shown; setting it selects exactly those. */
  selectedPageIds: string[];
  /** The page in the large view (the focused thumbnail). */
  currentPageId: string | null;
  /** Zoom of the large view, 0.25 to 8; 1 fits the page into the view. */
  zoom: number;
  /** How many thumbnails are kept as blob: URLs at most (visible ones always); default 120. */
  thumbnailCacheSize: number;
  /** True while a change is being sent to the service. */
  readonly busy: boolean;

  /** Load the document's pages again. */
  refresh(): Promise<void>;
  select(pageIds: Iterable<string>): void;
  selectAll(): void;
  clearSelection(): void;
  /** Show a page in the large view. */
  showPage(pageId: string): void;
  /** Rotate pages (default: the selection, else the current page); counter-clockwise degrees. */
  rotate(angle: number, pageIds?: Iterable<string>): Promise<void>;
  rotateLeft(pageIds?: Iterable<string>): Promise<void>;
  rotateRight(pageIds?: Iterable<string>): Promise<void>;
  /** Delete pages on the service (default: the selection, else the current page). */
  deletePages(pageIds?: Iterable<string>): Promise<void>;
  /** Move pages so the first lands at `toIndex`; they keep their relative order. */
  movePages(pageIds: Iterable<string>, toIndex: number): Promise<void>;
  zoomIn(): void;
  zoomOut(): void;
  resetZoom(): void;
  /** Start the crop tool on the current page, optionally with a preselected area. */
  startCrop(rect?: CropRect): void;
  /** Crop the current page to the crop tool's area, or to `box` (pixels of the page). */
  applyCrop(box?: PixelBox): Promise<void>;
  cancelCrop(): void;

  addEventListener<K extends keyof ScanletViewerEventMap>(
    type: K, listener: (this: ScanletViewer, event: ScanletViewerEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ScanletViewerEventMap>(
    type: K, listener: (this: ScanletViewer, event: ScanletViewerEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions): void;
}

export default ScanletViewer;

declare global {
  interface HTMLElementTagNameMap {
    "scanlet-viewer": ScanletViewer;
  }
}
