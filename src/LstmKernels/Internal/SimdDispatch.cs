using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LstmKernels.Internal;

/// <summary>
/// A kernel body written once against <see cref="IPanel{TP}"/> (sixteen-float panels), run by
/// <see cref="SimdDispatch.Run{TAction}(ref TAction)"/> on the active path. Implement it on a <c>ref struct</c> that
/// carries the kernel's spans; the JIT specialises <see cref="Run{TPanel, TP}"/> per path, with no indirection.
/// </summary>
internal interface IPanelAction
{
    void Run<TPanel, TP>()
        where TPanel : struct, IPanel<TP>
        where TP : struct;
}

/// <summary>
/// A kernel body written once against <see cref="ISimd{TVec}"/> (one hardware vector, or one float on the scalar path),
/// run by <see cref="SimdDispatch.Run{TAction}(ref TAction)"/> on the active path.
/// </summary>
internal interface IVectorAction
{
    void Run<TOps, TVec>()
        where TOps : struct, ISimd<TVec>
        where TVec : struct;
}

/// <summary>
/// A panel kernel that also reads packed weights (the cell's step): <see cref="Run{TPanel, TP, TFormat}"/> is
/// specialised per path and per <see cref="WeightPrecision"/>; run it with
/// <see cref="SimdDispatch.Run{TAction}(WeightPrecision, ref TAction)"/>.
/// </summary>
internal interface IPanelFormatAction
{
    void Run<TPanel, TP, TFormat>()
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat;
}

/// <summary>
/// The one place that maps the machine's vector hardware to the generic kernel bodies: the active
/// <see cref="SimdPath"/>, and the switch from it to the <see cref="IPanel{TP}"/> / <see cref="ISimd{TVec}"/>
/// implementations of that path. Adding a SIMD path touches this file (and the new panel and vector structs) only.
/// </summary>
/// <remarks>
/// A kernel wraps its arguments in a <c>ref struct</c> action and calls <c>SimdDispatch.Run(ref action)</c>:
/// <code>
/// var action = new CellUpdateAction(f, cPrev, i, g, c);   // ref struct : IPanelAction
/// SimdDispatch.Run(ref action);                           // action.Run&lt;Panel512, Vector512&lt;float&gt;&gt;() on AVX-512
/// </code>
/// <see cref="Active"/> is a static readonly value, so the tiered JIT folds the switch to the one call of the path.
/// </remarks>
internal static class SimdDispatch
{
    /// <summary>The widest accelerated path of this process (<c>DOTNET_EnableAVX512=0</c> and the like narrow it).</summary>
    public static SimdPath Active { get; } =
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdPath.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdPath.Vector128 :
        SimdPath.Scalar;

    /// <summary>Runs a panel kernel on the active path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TAction>(ref TAction action)
        where TAction : struct, IPanelAction, allows ref struct
    {
        switch (Active)
        {
            case SimdPath.Vector512: action.Run<Panel512, Vector512<float>>(); break;
            case SimdPath.Vector256: action.Run<Panel256, Pair256>(); break;
            case SimdPath.Vector128: action.Run<Panel128, Quad128>(); break;
            default: action.Run<PanelScalar, Scalar16>(); break;
        }
    }

    /// <summary>Runs a vector kernel on the active path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RunVector<TAction>(ref TAction action)
        where TAction : struct, IVectorAction, allows ref struct
    {
        switch (Active)
        {
            case SimdPath.Vector512: action.Run<Simd512, Vector512<float>>(); break;
            case SimdPath.Vector256: action.Run<Simd256, Vector256<float>>(); break;
            case SimdPath.Vector128: action.Run<Simd128, Vector128<float>>(); break;
            default: action.Run<SimdScalar, float>(); break;
        }
    }

    /// <summary>
    /// Runs a panel kernel over packed weights on the active path and the weights' format: the path switch of
    /// <see cref="Run{TAction}(ref TAction)"/>, then one switch over <paramref name="precision"/> inside it.
    /// </summary>
    /// <remarks>
    /// The action is copied into the second level, so its <c>Run</c> must write results through the spans (or objects)
    /// it carries, not into its own fields. For the cell's step, e.g.:
    /// <code>
    /// var step = new StepAction { Weights = w, First = first, End = end, Batch = batch, V = v, CPrev = cPrev, HNext = hNext, CNext = cNext };
    /// SimdDispatch.Run(w.Precision, ref step);   // step.Run&lt;TPanel, TP, TFormat&gt;() => FusedStep&lt;TPanel, TP, TFormat&gt;.Run(...)
    /// </code>
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TAction>(WeightPrecision precision, ref TAction action)
        where TAction : struct, IPanelFormatAction, allows ref struct
    {
        var nested = new WithFormat<TAction>(precision, action);
        Run(ref nested);
    }

    /// <summary>The second level: an <see cref="IPanelAction"/> that picks the weight format for a format action.</summary>
    private readonly ref struct WithFormat<TAction>(WeightPrecision precision, TAction action) : IPanelAction
        where TAction : struct, IPanelFormatAction, allows ref struct
    {
        private readonly TAction action = action;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct
        {
            switch (precision)
            {
                case WeightPrecision.Float32: action.Run<TPanel, TP, Float32Weights>(); break;
                case WeightPrecision.BFloat16: action.Run<TPanel, TP, BFloat16Weights>(); break;
                default: action.Run<TPanel, TP, Int8Weights>(); break;
            }
        }
    }
}
