export { Described, describeValue, shapeText } from './describe.js';
export { rangeFail, typeFail } from './fail.js';
