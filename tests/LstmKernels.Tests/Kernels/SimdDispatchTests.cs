using LstmKernels.Internal;

namespace LstmKernels.Tests;

/// <summary>The one SIMD driver (Internal/SimdDispatch.cs) hands every kernel the panel and vector types of the active path.</summary>
public sealed class SimdDispatchTests
{
    [Fact]
    public void Run_PicksThePanelOfTheActivePath()
    {
        var probe = new PanelProbe { Seen = new Type[1] };
        SimdDispatch.Run(ref probe);
        Type expected = Kernels.ActivePath switch
        {
            SimdPath.Vector512 => typeof(Panel512),
            SimdPath.Vector256 => typeof(Panel256),
            SimdPath.Vector128 => typeof(Panel128),
            _ => typeof(PanelScalar),
        };
        Assert.Equal(expected, probe.Seen[0]);
    }

    [Fact]
    public void RunVector_PicksTheVectorOpsOfTheActivePath()
    {
        var probe = new VectorProbe { Seen = new Type[1] };
        SimdDispatch.RunVector(ref probe);
        Type expected = Kernels.ActivePath switch
        {
            SimdPath.Vector512 => typeof(Simd512),
            SimdPath.Vector256 => typeof(Simd256),
            SimdPath.Vector128 => typeof(Simd128),
            _ => typeof(SimdScalar),
        };
        Assert.Equal(expected, probe.Seen[0]);
    }

    [Theory]
    [InlineData(WeightPrecision.Float32, typeof(Float32Weights))]
    [InlineData(WeightPrecision.BFloat16, typeof(BFloat16Weights))]
    [InlineData(WeightPrecision.Int8, typeof(Int8Weights))]
    public void Run_WithPrecision_PicksThePanelAndTheWeightFormat(WeightPrecision precision, Type format)
    {
        var panel = new PanelProbe { Seen = new Type[1] };
        SimdDispatch.Run(ref panel);
        var probe = new FormatProbe { Seen = new Type[2] };
        FormatDispatch.Run(precision, ref probe);
        Assert.Equal(panel.Seen[0], probe.Seen[0]);
        Assert.Equal(format, probe.Seen[1]);
    }

    private ref struct PanelProbe : IPanelAction
    {
        public Type[] Seen;

        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => Seen[0] = typeof(TPanel);
    }

    private ref struct VectorProbe : IVectorAction
    {
        public Type[] Seen;

        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => Seen[0] = typeof(TOps);
    }

    private ref struct FormatProbe : IPanelFormatAction
    {
        public Type[] Seen;

        public readonly void Run<TPanel, TP, TFormat>()
            where TPanel : struct, IPanel<TP>
            where TP : struct
            where TFormat : struct, IWeightFormat
        {
            Seen[0] = typeof(TPanel);
            Seen[1] = typeof(TFormat);
        }
    }
}
