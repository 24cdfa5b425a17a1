/**
 * Keras weights as a tensor archive: `.h5`/`.hdf5` (Keras 2 / tf.keras `model.save` and
 * `save_weights`, Keras 3 `.weights.h5`, or any HDF5 file) and `.keras` (Keras 3: a zip of
 * config.json, metadata.json and model.weights.h5), every variable named `<layer>/<variable>`.
 *
 * Names (keras-names.ts), from keras-team/keras:
 * - Keras 2 (tag v2.13.1, keras/saving/legacy/hdf5_format.py, save_weights_to_hdf5_group and
 *   save_subset_weights_to_hdf5_group; Keras 3's legacy_h5_format.py writes the same with `w.path`):
 *   the group (`model_weights` after model.save, the root after save_weights) lists its layers in
 *   the attribute `layer_names`, each layer group its weights in `weight_names` ("bn/gamma:0"),
 *   each weight a dataset at `<layer>/<weight name>`. The name is the weight name without `:0`:
 *   `bn/gamma`, `conv/kernel`. Optimizer state (`optimizer_weights`) is not listed.
 * - Keras 3 (master 3422977a, keras/src/saving/saving_lib.py: _save_state, _save_container_state,
 *   H5IOStore; keras/src/layers/layer.py save_own_variables): a layer's variables are datasets
 *   `layers/<snake_case class name, made unique>/vars/<i>` (nested models:
 *   `layers/<model>/layers/<class>/vars/<i>`), numbered trainable first, then non-trainable. The layer
 *   is named by the `vars` group's `name` attribute (Keras 3.6+), else by config.json's layer at that
 *   path, else by the path's last part. BatchNormalization's numbers (batch_normalization.py, build):
 *   gamma if `scale`, beta if `center`, moving_mean, moving_variance (then moving_stddev,
 *   renorm_mean, renorm_stddev with `renorm`), from the layer's config.json entry; without
 *   config.json, a batch-norm group (path or name containing `batch_norm`) of exactly four variables
 *   is gamma, beta, moving_mean, moving_variance. Other layers keep `vars/<i>`: `conv/vars/0`. Other
 *   state keeps its path: `optimizer/vars/0`.
 * - An HDF5 file in neither layout: every dataset by its path.
 *
 * HDF5 library: jsfive 0.4.2, not h5wasm 0.10.3. Measured on this machine (Node 20, 2 shared cores):
 *   installed size           jsfive 1.7 MB                  h5wasm 15 MB (4.2 MB of it the Node build)
 *   import, fresh process    5-7 ms                         36-38 ms, plus 74-110 ms awaiting `ready` (wasm)
 *   10 MB file, 136 datasets, open and read all:
 *                            69-101 ms                      84-101 ms
 *   same, whole process      0.16 s, max RSS 79 MB          0.29 s, max RSS 110 MB (node alone: 0.07 s, 43 MB)
 *   100 MB file, one dataset 102-149 ms, RSS 247 MB         128-134 ms, RSS 86 MB
 *   100 MB file, all 25M values
 *                            370-388 ms, RSS 256 MB         186-242 ms, RSS 122-153 MB
 * h5wasm's Node build opens files through Emscripten's NODERAWFS: it reads the disk directly, page by
 * page, without copying the file — its one advantage, for large files. But its API is asynchronous
 * (`await ready`) where TensorArchive is synchronous, it costs 110-150 ms before the first read, it
 * is nine times larger, and a .keras member would first have to be written to a temporary file.
 * jsfive is synchronous over an ArrayBuffer, which a .keras member inflates into directly, and
 * bn-check needs a few BatchNorm vectors out of a file, not every value: jsfive it is. Its cost is
 * that the whole file is held in memory, hence the limit below. Through this reader (one read into
 * one buffer, naming walk included): 10 MB file, open and read one variable 89-105 ms, RSS 67 MB;
 * 100 MB file 130 ms, RSS 156 MB. `bn-check compare` with its four parameters from a .keras takes
 * 0.12-0.13 s, against 0.09-0.10 s from .npy files; commands reading no HDF5 never load jsfive.
 *
 * Since then, datasets are read by hdf5-data.ts, not jsfive's `value` (a 50 M-float gzip dataset:
 * `diff F F` 24 s and 2.1 GB through jsfive, 3.6 s and 0.68 GB now; an uncompressed one 14.5 s and
 * 1.9 GB, now 2.4 s and 0.65 GB, most of it the file and the two tensors).
 *
 * Limits: a file (or model.weights.h5 member) above MAX_WEIGHTS_BYTES is refused before it is read:
 * 1 GiB holds some 250 million float32 parameters (ConvNeXt-L, ViT-L), all held in memory while the
 * archive is open. Larger models: save the layers to check with save_weights, or dump them as .npy.
 */
import { InputFileError } from "../core/errors.js";
import { readFully, withOpenFile } from "./read-file.js";
import { listSome } from "../core/format.js";
import { type ArchiveFormat, checkedName, type TensorArchive } from "./archive.js";
import { hdf5FileEnd, openHdf5, SUPERBLOCK_BYTES } from "./hdf5.js";
import { configuredLayers, datasetPaths, keras3WeightPaths, legacyWeightPaths } from "./keras-names.js";
import { readCentralDirectory, readMemberPrefix, readWholeMember, type ZipEntry } from "./zip.js";

export const MAX_WEIGHTS_BYTES = 2 ** 30;
/** Float weights deflate to little less than their size; above this ratio (and 64 MiB) a member is refused. */
const MAX_INFLATION = 32;
const MAX_BOMB_FREE_BYTES = 64 * 2 ** 20;
/** config.json of a model of thousands of layers is a few MB. */
const MAX_CONFIG_BYTES = 64 * 2 ** 20;
const WEIGHTS_MEMBER = "model.weights.h5";
const CONFIG_MEMBER = "config.json";

/** The file's layout read and its variables named once; each variable is then read by name. */
export function openKeras(path: string): TensorArchive {
  const { bytes, config, where } = path.toLowerCase().endsWith(".keras")
    ? readKerasArchive(path)
    : { bytes: readWeightsFile(path), config: undefined, where: path };
  const file = openHdf5(bytes, where);
  const paths = legacyWeightPaths(file) ?? keras3WeightPaths(file, configuredLayers(config)) ?? datasetPaths(file);
  const datasetOf = (name: string) => paths.get(checkedName(archive, name, "variable"))!;
  const archive: TensorArchive = {
    path,
    names: [...paths.keys()],
    read: (name) => file.readFloat(datasetOf(name), `${path}:${name}`),
    readInteger: (name) => file.readInteger(datasetOf(name), `${path}:${name}`),
  };
  return archive;
}

export const kerasFormat: ArchiveFormat = {
  label: "Keras",
  extensions: [".h5", ".hdf5", ".keras"],
  items: "variables",
  open: openKeras,
};

function tooLarge(where: string, size: number): InputFileError {
  return new InputFileError(
    where,
    `is ${size.toLocaleString("en-US")} bytes: more than the ${MAX_WEIGHTS_BYTES.toLocaleString("en-US")} bn-check ` +
      `holds in memory for a Keras file (save the layers to check with save_weights, or dump them as .npy)`,
  );
}

/** An HDF5 file ending where its superblock says: bytes past that are neither read nor held. */
function readWeightsFile(path: string): Uint8Array {
  return withOpenFile(path, (fd, size) => {
    if (size > MAX_WEIGHTS_BYTES) throw tooLarge(path, size);
    const head = new Uint8Array(Math.min(size, SUPERBLOCK_BYTES));
    readFully(fd, head, 0, path);
    const bytes = new Uint8Array(checkedEnd(hdf5FileEnd(head, path), size, path));
    readFully(fd, bytes, 0, path);
    return bytes;
  });
}

/** The end its superblock states, which the file (or member) of `size` bytes must reach. */
function checkedEnd(end: number, size: number, where: string): number {
  if (end > size)
    throw new InputFileError(
      where,
      `is truncated: its HDF5 superblock says it ends at byte ` +
        `${end.toLocaleString("en-US")}, but it holds ${size.toLocaleString("en-US")} bytes`,
    );
  return end;
}

/** model.weights.h5 (and config.json, when there) out of a .keras zip, each checked by zip.ts. */
function readKerasArchive(path: string): { bytes: Uint8Array; config: unknown; where: string } {
  return withOpenFile(path, (fd, size) => {
    const entries = readCentralDirectory(fd, size, path, ".keras (zip)");
    const weights = entries.find((entry) => entry.name === WEIGHTS_MEMBER);
    if (weights === undefined) {
      const names = entries.map((entry) => entry.name);
      throw new InputFileError(
        path,
        `has no ${WEIGHTS_MEMBER} (it holds ${names.length === 0 ? "nothing" : listSome(names)}` +
          `): not a Keras 3 model archive bn-check reads`,
      );
    }
    const where = `${path}:${WEIGHTS_MEMBER}`;
    if (weights.uncompressedSize > MAX_WEIGHTS_BYTES) throw tooLarge(where, weights.uncompressedSize);
    // Keras stores the member uncompressed; one deflated to a small fraction of what it claims is a
    // zip bomb (a 1 MB file that inflates to 1 GiB took 3.1 GB to read): refused before inflating.
    if (
      weights.method !== 0 &&
      weights.uncompressedSize > MAX_BOMB_FREE_BYTES &&
      weights.uncompressedSize > MAX_INFLATION * weights.compressedSize
    ) {
      throw new InputFileError(
        where,
        `inflates ${weights.compressedSize.toLocaleString("en-US")} bytes to ` +
          `${weights.uncompressedSize.toLocaleString("en-US")} ` +
          `(${Math.round(weights.uncompressedSize / Math.max(weights.compressedSize, 1))}` +
          `x): weights do not compress that far; refused as a zip bomb`,
      );
    }
    const configEntry = entries.find((entry) => entry.name === CONFIG_MEMBER);
    // Only the HDF5 file the member holds is inflated: up to the end its superblock states (the
    // whole member, CRC-32 checked, for every file HDF5 writes).
    const end = checkedEnd(
      hdf5FileEnd(readMemberPrefix(fd, weights, path, SUPERBLOCK_BYTES), where),
      weights.uncompressedSize,
      where,
    );
    return {
      bytes: readMemberPrefix(fd, weights, path, end),
      config: configEntry === undefined ? undefined : parseConfig(fd, configEntry, path),
      where,
    };
  });
}

function parseConfig(fd: number, entry: ZipEntry, path: string): unknown {
  const where = `${path}:${CONFIG_MEMBER}`;
  if (entry.uncompressedSize > MAX_CONFIG_BYTES)
    throw new InputFileError(
      where,
      `is ${entry.uncompressedSize.toLocaleString("en-US")} bytes: more than ` +
        `the ${MAX_CONFIG_BYTES.toLocaleString("en-US")} a model config may have`,
    );
  const bytes = readWholeMember(fd, entry, path);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as unknown;
  } catch (error) {
    throw new InputFileError(where, `is not valid UTF-8 JSON (${(error as Error).message})`, { cause: error });
  }
}
