// Where the CLI finds its model when --model is not given: the small random-weight model bundled in weights/.
import * as path from 'path';

/** The bundled default model (random weights: its output is meaningless, see the README). */
export const BUNDLED_MODEL_DIR = path.resolve(__dirname, '..', '..', 'weights', 'clvp-random-small');
