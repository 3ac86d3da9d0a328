/** A module that throws while it loads, before it defines the electron tasks ask for. */
import { registerElectron } from "../../../../sdk/global-registry.js";

throw new Error("module exploded while loading");

registerElectron("throwing.never", () => 1);
