// Readers/writers of the binary payloads of src-tauri/src/wire.rs. Keep both in step.
import type { Beats } from "./timeline-math";

export interface PyramidLevel {
  block: number;
  /** Interleaved [min0, max0, min1, max1, …]. */
  minMax: Float32Array;
}

export interface CurveData {
  kind: string;
  fps: number;
  values: Float32Array;
}

export interface TimelineData {
  durationS: number;
  sampleRateHz: number;
  levels: PyramidLevel[];
  curves: CurveData[];
}

export interface BeatsData extends Beats {
  /** Revision the beats belong to, -1 when the track has none. */
  revision: number;
  /** Beats per bar stored with the revision, 0 when unknown. */
  beatsPerBar: number;
}

function magic(view: DataView, at: number): string {
  return String.fromCharCode(view.getUint8(at), view.getUint8(at + 1), view.getUint8(at + 2), view.getUint8(at + 3));
}

/** Parses a timeline payload; throws on anything malformed. Arrays are views (no copy). */
export function parseTimeline(buf: ArrayBuffer): TimelineData {
  const v = new DataView(buf);
  if (buf.byteLength < 32 || magic(v, 0) !== "ZNTL") throw new Error("timeline payload: bad magic");
  const version = v.getUint32(4, true);
  if (version !== 1) throw new Error(`timeline payload: unsupported version ${version}`);
  const durationS = v.getFloat64(8, true);
  const sampleRateHz = v.getUint32(16, true);
  const nLevels = v.getUint32(20, true);
  const nCurves = v.getUint32(24, true);
  let at = 32;
  const levelHeads: { block: number; n: number }[] = [];
  for (let i = 0; i < nLevels; i++, at += 8) levelHeads.push({ block: v.getUint32(at, true), n: v.getUint32(at + 4, true) });
  const curveHeads: { fps: number; n: number; kind: string }[] = [];
  const dec = new TextDecoder();
  for (let i = 0; i < nCurves; i++) {
    const fps = v.getFloat32(at, true);
    const n = v.getUint32(at + 4, true);
    const len = v.getUint32(at + 8, true);
    const kind = dec.decode(new Uint8Array(buf, at + 12, len));
    at += 12 + Math.ceil(len / 4) * 4;
    curveHeads.push({ fps, n, kind });
  }
  const levels = levelHeads.map(({ block, n }) => {
    const minMax = new Float32Array(buf, at, 2 * n);
    at += 8 * n;
    return { block, minMax };
  });
  const curves = curveHeads.map(({ fps, n, kind }) => {
    const values = new Float32Array(buf, at, n);
    at += 4 * n;
    return { kind, fps, values };
  });
  if (at !== buf.byteLength) throw new Error(`timeline payload: ${buf.byteLength} bytes, expected ${at}`);
  return { durationS, sampleRateHz, levels, curves };
}

/** Parses a beats payload. */
export function parseBeats(buf: ArrayBuffer): BeatsData {
  const v = new DataView(buf);
  if (buf.byteLength < 24 || magic(v, 0) !== "ZNBT") throw new Error("beats payload: bad magic");
  const n = v.getUint32(4, true);
  const revision = Number(v.getBigInt64(8, true));
  const hasPositions = v.getUint32(16, true) !== 0;
  const beatsPerBar = v.getUint32(20, true);
  const expected = 24 + 8 * n + (hasPositions ? 4 * n : 0);
  if (buf.byteLength !== expected) throw new Error(`beats payload: ${buf.byteLength} bytes, expected ${expected}`);
  const times = new Float64Array(buf.slice(24, 24 + 8 * n));
  const positions = hasPositions ? new Uint32Array(buf.slice(24 + 8 * n, expected)) : null;
  return { times, positions, revision, beatsPerBar };
}

/** Encodes beats for `commit_beats` (same layout as the beats payload). */
export function encodeBeats(b: Beats, baseRevision: number, beatsPerBar: number): Uint8Array {
  const n = b.times.length;
  const size = 24 + 8 * n + (b.positions ? 4 * n : 0);
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  "ZNBT".split("").forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
  v.setUint32(4, n, true);
  v.setBigInt64(8, BigInt(baseRevision), true);
  v.setUint32(16, b.positions ? 1 : 0, true);
  v.setUint32(20, beatsPerBar, true);
  for (let i = 0; i < n; i++) v.setFloat64(24 + 8 * i, b.times[i], true);
  if (b.positions) for (let i = 0; i < n; i++) v.setUint32(24 + 8 * n + 4 * i, b.positions[i], true);
  return new Uint8Array(buf);
}
