export { writeFileAtomic, writeJsonAtomic } from './atomic.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  saveSafetensors,
  loadSafetensors,
  type SafeTensor,
  type SafeDType,
  type SafetensorsFile,
} from './safetensors.js';
