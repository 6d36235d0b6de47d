// Record face-api's own outputs on the fixture images (run once, by hand).
//
//   mkdir /tmp/fa && cd /tmp/fa && npm pack @vladmandic/face-api@1.7.15
//   npm install @tensorflow/tfjs@4 @tensorflow/tfjs-backend-wasm@4 pngjs@7 ./vladmandic-face-api-1.7.15.tgz
//   NODE_PATH=/tmp/fa/node_modules node scripts/record_faceapi_reference.mjs \
//       /tmp/fa/node_modules/@vladmandic/face-api/model tests/fixtures/faceapi
//
// Runs tfjs's pure-JavaScript CPU backend (the wasm package is only there
// because face-api's node-wasm build requires it). Writes reference.json next
// to the images: each net's output per image, the tiny detector's raw grid and
// detections, and the whole detect -> landmarks -> expression/age/gender/
// descriptor pipeline on the scene image.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), 'x.js'));
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { PNG } = require('pngjs');
const tf = faceapi.tf;

const [modelDir, fixtureDir] = process.argv.slice(2);
const DETECTOR_SIZES = { 'scene-256x192.png': 224 };

function load(file) {
  const png = PNG.sync.read(fs.readFileSync(file));
  const rgb = new Int32Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i += 1) {
    for (let c = 0; c < 3; c += 1) rgb[i * 3 + c] = png.data[i * 4 + c];
  }
  return tf.tensor3d(rgb, [png.height, png.width, 3], 'int32');
}

const list = (t) => Array.from(t.dataSync());

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  for (const net of ['tinyFaceDetector', 'faceLandmark68Net', 'faceExpressionNet', 'ageGenderNet', 'faceRecognitionNet']) {
    await faceapi.nets[net].loadFromDisk(modelDir);
  }
  const out = { backend: tf.getBackend(), tfjs: tf.version.tfjs, faceapi: faceapi.version, images: {} };
  for (const name of fs.readdirSync(fixtureDir).filter((f) => f.endsWith('.png')).sort()) {
    const image = load(path.join(fixtureDir, name));
    const [height, width] = image.shape;
    const input = await faceapi.toNetInput(image);
    const rec = {};
    const rel = list(faceapi.nets.faceLandmark68Net.forwardInput(input));
    rec.landmarks = Array.from({ length: 68 }, (_, i) => [rel[2 * i] * width, rel[2 * i + 1] * height]);
    rec.expressions = list(faceapi.nets.faceExpressionNet.forwardInput(input));
    const ag = faceapi.nets.ageGenderNet.forwardInput(input);
    rec.age = list(ag.age)[0];
    rec.male = list(ag.gender)[0];
    rec.descriptor = list(faceapi.nets.faceRecognitionNet.forwardInput(input));
    const size = DETECTOR_SIZES[name] || 128;
    const options = new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: 0.1 });
    rec.detector_input_size = size;
    rec.detector_raw = list(await faceapi.nets.tinyFaceDetector.forward(image, size));
    rec.detections = (await faceapi.nets.tinyFaceDetector.locateFaces(image, options))
      .map((d) => ({ score: d.score, box: [d.box.x, d.box.y, d.box.width, d.box.height] }));
    if (name.startsWith('scene')) {
      const found = await faceapi.detectAllFaces(image, options).withFaceLandmarks()
        .withFaceExpressions().withAgeAndGender().withFaceDescriptors();
      rec.pipeline = found.map((f) => ({
        score: f.detection.score,
        box: [f.detection.box.x, f.detection.box.y, f.detection.box.width, f.detection.box.height],
        landmarks: f.landmarks.positions.map((p) => [p.x, p.y]),
        aligned_box: [f.alignedRect.box.x, f.alignedRect.box.y, f.alignedRect.box.width, f.alignedRect.box.height],
        expressions: faceapi.FaceExpressions ? Object.values(f.expressions) : [],
        age: f.age,
        male: f.gender === 'male' ? f.genderProbability : 1 - f.genderProbability,
        descriptor: Array.from(f.descriptor),
      }));
    }
    out.images[name] = rec;
    console.log(name, rec.detections.length, 'detections', 'age', rec.age.toFixed(2), 'male', rec.male.toFixed(3));
  }
  fs.writeFileSync(path.join(fixtureDir, 'reference.json'), JSON.stringify(out));
}

main();
