// torch.nn.Embedding: a row lookup. A vocabulary-sharded table (SHARDING_TABLE) holds a run of
// rows per rank: each rank looks up the ids it holds, zeros elsewhere, and the sum over ranks is
// the lookup (exact: every position has one nonzero term).
import * as tf from '@tensorflow/tfjs-core';
import { ParallelContext, shardRange } from './parallel';
import { ParamRequest, ParamSource, shardingFor } from './params';

export class Embedding {
  /** [rows held, dim] */
  readonly weight: tf.Tensor2D;
  /** the first id this rank's rows stand for, and how many */
  private readonly rows: { start: number; count: number };
  private readonly parallel: ParallelContext;

  constructor(src: ParamSource, readonly name: string, readonly num: number, readonly dim: number, std = 0.02) {
    const req: ParamRequest = { name: `${name}.weight`, shape: [num, dim], layout: 'same', init: { kind: 'normal', std } };
    this.parallel = src.parallel;
    const sharded = this.parallel.size > 1 && shardingFor(req.name).rule.kind === 'split';
    this.rows = sharded ? shardRange(num, this.parallel.rank, this.parallel.size) : { start: 0, count: num };
    this.weight = src.take(req) as tf.Tensor2D;
  }

  /** ids: int32 [...] -> [..., dim]. Ids are checked on the host so a bad id names itself. */
  apply(ids: tf.Tensor | Int32Array, shape?: number[]): tf.Tensor {
    const host = ids instanceof Int32Array ? ids : (ids.dataSync() as Int32Array);
    const s = ids instanceof Int32Array ? shape ?? [ids.length] : ids.shape;
    for (let i = 0; i < host.length; i++) {
      const v = host[i];
      if (!(v >= 0 && v < this.num)) throw new RangeError(`${this.name}: id ${v} at flat index ${i} is outside [0, ${this.num})`);
    }
    return tf.tidy(() => {
      if (this.rows.count === this.num) return tf.reshape(tf.gather(this.weight, tf.tensor1d(host, 'int32')), [...s, this.dim]);
      const { start, count } = this.rows;
      const local = new Int32Array(host.length);
      const held = new Float32Array(host.length);
      for (let i = 0; i < host.length; i++) {
        const j = host[i] - start;
        if (j >= 0 && j < count) {
          local[i] = j;
          held[i] = 1;
        }
      }
      const rows = tf.mul(tf.gather(this.weight, tf.tensor1d(local, 'int32')), tf.tensor2d(held, [host.length, 1]));
      return tf.reshape(this.parallel.allReduce(rows), [...s, this.dim]);
    });
  }

  dispose(): void {
    this.weight.dispose();
  }
}
