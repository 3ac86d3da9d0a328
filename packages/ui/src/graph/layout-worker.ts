/// <reference lib="webworker" />
import { layoutSync, type LayoutInput } from "./layout";

self.onmessage = (e: MessageEvent<LayoutInput>) => {
  self.postMessage(layoutSync(e.data));
};
