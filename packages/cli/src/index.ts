export { runCli } from './run.js';
export { forwardDemo, type ForwardDemoOptions, type ForwardDemoReport, type ForwardDemoRow } from './forward-demo.js';
export { formatTable } from './table.js';
