using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// The LSTM kernels: static, allocation-free span methods. Each validates its span lengths once at entry and
/// then runs an unchecked loop on the widest accelerated vector path (<see cref="ActivePath"/>).
/// Every kernel has a twin of the same name and parameters in <see cref="Reference.ReferenceKernels"/>.
/// </summary>
/// <remarks>
/// Layout: row-major, batch-major <c>[B, features]</c>; gate order i, f, g, o (PyTorch's).
/// Aliasing: an output may be the exact same memory as an input where a method says so; any other overlap
/// throws <see cref="ArgumentException"/>. NaN in an input propagates to the outputs that depend on it.
/// Thread safety: the kernels keep no state, so any number of threads may call them at once; each call writes only
/// its own outputs (two concurrent calls writing the same output race, as with any span method). See docs/threading.md.
/// </remarks>
public static partial class Kernels
{
    /// <summary>The vector path these kernels take in this process.</summary>
    public static SimdPath ActivePath => SimdDispatch.Active;
}
