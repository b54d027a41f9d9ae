// Runs a TF.js graph model (Robust Video Matting's export) on a clip with the pure-JS CPU
// backend of @tensorflow/tfjs, carrying the recurrent state from frame to frame.
//
//   node tfjs_run.mjs <tfjs install dir> <model.json> <frames.f32> T H W <ratio> <out dir>
//
// frames.f32: T*H*W*3 little-endian float32 (NHWC frames in [0, 1]). Writes, per output name
// (fgr, pha, r1o..r4o), <out dir>/<name>.f32 with the T frames concatenated, and shapes.json.
import fs from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';

const [tfjsDir, modelJson, framesPath, t, h, w, ratioText, outDir] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(tfjsDir), 'node_modules', 'index.js'));
const tf = require('@tensorflow/tfjs');

function loadHandler(jsonPath) {
  const spec = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const folder = path.dirname(jsonPath);
  const specs = [];
  const buffers = [];
  for (const group of spec.weightsManifest) {
    specs.push(...group.weights);
    for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(folder, shard)));
  }
  const data = Buffer.concat(buffers);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return {
    load: async () => ({
      modelTopology: spec.modelTopology,
      weightSpecs: specs,
      weightData,
      format: spec.format,
      generatedBy: spec.generatedBy,
      convertedBy: spec.convertedBy,
      signature: spec.signature,
    }),
  };
}

await tf.setBackend('cpu');
const model = await tf.loadGraphModel(loadHandler(modelJson));
const [T, H, W] = [Number(t), Number(h), Number(w)];
const raw = fs.readFileSync(framesPath);
const frames = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const names = ['fgr', 'pha', 'r1o', 'r2o', 'r3o', 'r4o'];
const chunks = Object.fromEntries(names.map((n) => [n, []]));
const shapes = {};
const ratio = tf.scalar(Number(ratioText));
let state = [tf.scalar(0), tf.scalar(0), tf.scalar(0), tf.scalar(0)];
const frameSize = H * W * 3;
for (let i = 0; i < T; i++) {
  const src = tf.tensor4d(frames.subarray(i * frameSize, (i + 1) * frameSize), [1, H, W, 3]);
  const inputs = {src, r1i: state[0], r2i: state[1], r3i: state[2], r4i: state[3],
    downsample_ratio: ratio};
  const outputs = await model.executeAsync(inputs, names);
  for (let k = 0; k < names.length; k++) {
    chunks[names[k]].push(Buffer.from((await outputs[k].data()).buffer));
    shapes[names[k]] = outputs[k].shape;
  }
  src.dispose();
  state.forEach((s) => s.dispose());
  outputs.slice(0, 2).forEach((o) => o.dispose());
  state = outputs.slice(2);
}
fs.mkdirSync(outDir, {recursive: true});
for (const n of names) fs.writeFileSync(path.join(outDir, `${n}.f32`), Buffer.concat(chunks[n]));
fs.writeFileSync(path.join(outDir, 'shapes.json'), JSON.stringify(shapes));
