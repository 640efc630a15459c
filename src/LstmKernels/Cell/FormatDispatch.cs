using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// A panel kernel that also reads packed weights (the cell's step): <see cref="Run{TPanel, TP, TFormat}"/> is
/// specialised per path and per <see cref="WeightPrecision"/>; run it with
/// <see cref="FormatDispatch.Run{TAction}(WeightPrecision, ref TAction)"/>.
/// </summary>
internal interface IPanelFormatAction
{
    void Run<TPanel, TP, TFormat>()
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat;
}

/// <summary>
/// The cell's dispatch: the active SIMD path (<see cref="SimdDispatch"/>), then the packed weights' format. Adding a
/// weight precision touches this switch (and its <see cref="IWeightFormat"/>) only.
/// </summary>
internal static class FormatDispatch
{
    /// <summary>Runs a panel kernel over packed weights on the active path and the weights' format.</summary>
    /// <remarks>
    /// The action is copied into the second level, so its <c>Run</c> must write results through the spans (or objects)
    /// it carries, not into its own fields (see ParallelStep's StepAction).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TAction>(WeightPrecision precision, ref TAction action)
        where TAction : struct, IPanelFormatAction, allows ref struct
    {
        var nested = new WithFormat<TAction>(precision, action);
        SimdDispatch.Run(ref nested);
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
