namespace LstmKernels.Reference;

/// <summary>
/// Naive twins of <see cref="Kernels"/>: the same names, parameters, shape rules and exceptions, written as plain
/// scalar loops that accumulate in <see cref="double"/> and round once. Never optimised; use them to verify
/// optimised code, as the tests and benchmarks of this library do.
/// </summary>
public static partial class ReferenceKernels
{
}
