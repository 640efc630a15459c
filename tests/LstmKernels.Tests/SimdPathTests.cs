using System.Numerics;
using System.Runtime.Intrinsics;
using Xunit;
using Xunit.Abstractions;

namespace LstmKernels.Tests;

/// <summary>
/// Which hardware path this process takes (Kernels.cs, SimdPath.cs). CI runs the suite once per path with the
/// runtime's switches and sets LSTMKERNELS_EXPECT_PATH, so each leg proves that it really took its path.
/// </summary>
public sealed class SimdPathTests(ITestOutputHelper output)
{
    private const string ExpectVariable = "LSTMKERNELS_EXPECT_PATH";

    [Fact]
    public void ActivePath_IsTheWidestAcceleratedWidth()
    {
        string line =
            $"LstmKernels: Kernels.ActivePath = {Kernels.ActivePath}; Vector512.IsHardwareAccelerated = {Vector512.IsHardwareAccelerated}, " +
            $"Vector256.IsHardwareAccelerated = {Vector256.IsHardwareAccelerated}, Vector128.IsHardwareAccelerated = {Vector128.IsHardwareAccelerated}, " +
            $"Vector<float>.Count = {Vector<float>.Count}, Vector.IsHardwareAccelerated = {Vector.IsHardwareAccelerated}, " +
            $"{ExpectVariable} = {Environment.GetEnvironmentVariable(ExpectVariable) ?? "(not set)"}";
        output.WriteLine(line);
        Console.WriteLine(line);

        SimdPath expected =
            Vector512.IsHardwareAccelerated ? SimdPath.Vector512 :
            Vector256.IsHardwareAccelerated ? SimdPath.Vector256 :
            Vector128.IsHardwareAccelerated ? SimdPath.Vector128 :
            SimdPath.Scalar;
        Assert.Equal(expected, Kernels.ActivePath);
        Assert.True(Enum.IsDefined(Kernels.ActivePath));

        // A wider path implies the narrower ones (no machine accelerates 512 bits but not 128).
        if (Kernels.ActivePath != SimdPath.Scalar)
        {
            Assert.True(Vector128.IsHardwareAccelerated);
        }

        // The enum's value is the width in bits, and Vector<T> is never wider than the widest accelerated width.
        Assert.True(Kernels.ActivePath == SimdPath.Scalar || Vector<float>.Count * 32 <= (int)Kernels.ActivePath || !Vector.IsHardwareAccelerated);
    }

    [Fact]
    public void ActivePath_IsWhatTheLegExpects()
    {
        string? expected = Environment.GetEnvironmentVariable(ExpectVariable);
        if (string.IsNullOrEmpty(expected))
        {
            output.WriteLine($"{ExpectVariable} is not set: nothing to compare (ActivePath = {Kernels.ActivePath}).");
            return;
        }

        Assert.True(Enum.TryParse(expected, ignoreCase: false, out SimdPath path) && Enum.IsDefined(path), $"{ExpectVariable} = '{expected}' is not a SimdPath name");
        string line = $"LstmKernels: expected ActivePath {path}, got {Kernels.ActivePath}";
        output.WriteLine(line);
        Console.WriteLine(line);
        Assert.Equal(path, Kernels.ActivePath);
    }
}
