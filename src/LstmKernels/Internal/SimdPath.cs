using System.Runtime.Intrinsics;

namespace LstmKernels;

/// <summary>The hardware path the kernels take on this process, chosen once from what the JIT accelerates.</summary>
/// <remarks>
/// Widest first: <see cref="Vector512"/> when accelerated, then <see cref="Vector256"/>, then <see cref="Vector128"/>,
/// else scalar. Force a narrower path with the runtime's switches, e.g. <c>DOTNET_EnableAVX512=0</c> (Vector256),
/// <c>DOTNET_EnableAVX2=0</c> (Vector128) or <c>DOTNET_EnableHWIntrinsic=0</c> (scalar).
/// </remarks>
public enum SimdPath
{
    /// <summary>No vector hardware: one float at a time, the same algorithms.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors (SSE, AdvSimd).</summary>
    Vector128 = 128,

    /// <summary>256-bit vectors (AVX2).</summary>
    Vector256 = 256,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512 = 512,
}
