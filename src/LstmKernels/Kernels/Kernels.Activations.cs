using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>Logistic sigmoid of each element: <c>destination[k] = 1 / (1 + exp(−x[k]))</c>.</summary>
    /// <param name="x">The inputs.</param>
    /// <param name="destination">The outputs; same length as <paramref name="x"/>; may be the same memory as <paramref name="x"/>.</param>
    /// <remarks>
    /// Error against the exact value (measured and tested, see docs/kernels.md): at most 1e-38 absolute plus
    /// 4·2⁻²⁴ relative. The result is in [0, 1] for every finite input; NaN gives NaN. Unlike
    /// <c>TensorPrimitives.Sigmoid</c>, an empty span is allowed. A value gets the same bits whatever the span's
    /// length or its position in it.
    /// </remarks>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partially overlap.</exception>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> destination)
    {
        CheckUnary(x, destination);
        SigmoidUnchecked(x, destination);
    }

    /// <summary><see cref="Sigmoid"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void SigmoidUnchecked(ReadOnlySpan<float> x, Span<float> destination)
    {
        Debug.Assert(x.Length == destination.Length);
        var action = new MapAction<SigmoidOp> { X = x, Destination = destination };
        SimdDispatch.Run(ref action);
    }

    /// <summary>Hyperbolic tangent of each element: <c>destination[k] = tanh(x[k])</c>.</summary>
    /// <param name="x">The inputs.</param>
    /// <param name="destination">The outputs; same length as <paramref name="x"/>; may be the same memory as <paramref name="x"/>.</param>
    /// <remarks>
    /// Error against the exact value (measured and tested, see docs/kernels.md): at most 1e-38 absolute plus
    /// 4·2⁻²⁴ relative, so tanh(±0) = ±0 and tiny inputs keep their sign (unlike vectorised
    /// <c>TensorPrimitives.Tanh</c>). The result is in [−1, 1] for every finite input; NaN gives NaN.
    /// </remarks>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partially overlap.</exception>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> destination)
    {
        CheckUnary(x, destination);
        TanhUnchecked(x, destination);
    }

    /// <summary><see cref="Tanh"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void TanhUnchecked(ReadOnlySpan<float> x, Span<float> destination)
    {
        Debug.Assert(x.Length == destination.Length);
        var action = new MapAction<TanhOp> { X = x, Destination = destination };
        SimdDispatch.Run(ref action);
    }

    internal static void CheckUnary(ReadOnlySpan<float> x, Span<float> destination)
    {
        ThrowHelper.CheckLength(destination.Length, x.Length, nameof(destination), "one output per element of 'x'");
        Aliasing.AllowExactOnly(destination, x, nameof(destination), nameof(x));
    }

    private interface IUnaryOp
    {
        static abstract TP Apply<TPanel, TP>(TP x)
            where TPanel : struct, IPanel<TP>
            where TP : struct;
    }

    private readonly struct SigmoidOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TP Apply<TPanel, TP>(TP x)
            where TPanel : struct, IPanel<TP>
            where TP : struct => TPanel.Sigmoid(x);
    }

    private readonly struct TanhOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TP Apply<TPanel, TP>(TP x)
            where TPanel : struct, IPanel<TP>
            where TP : struct => TPanel.Tanh(x);
    }

    private ref struct MapAction<TOp> : IPanelAction
        where TOp : struct, IUnaryOp
    {
        public ReadOnlySpan<float> X;
        public Span<float> Destination;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => Map<TPanel, TP, TOp>(X, Destination);
    }

    [SkipLocalsInit]
    private static void Map<TPanel, TP, TOp>(ReadOnlySpan<float> x, Span<float> destination)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TOp : struct, IUnaryOp
    {
        const int W = PanelWidth.Value;
        ref float src = ref MemoryMarshal.GetReference(x);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        int n = x.Length;
        int k = 0;
        for (; k <= n - W; k += W)
        {
            TPanel.Store(TOp.Apply<TPanel, TP>(TPanel.Load(ref Unsafe.Add(ref src, k))), ref Unsafe.Add(ref dst, k));
        }

        if (k < n)
        {
            // The tail goes through the same 16-wide code on a padded copy, so its values get the same bits as
            // they would in a full panel (no separate scalar formula for the last elements).
            var tail = new PaddedTail(stackalloc float[W]);
            tail.Gather(0, x[k..]);
            ref float t = ref tail[0];
            TPanel.Store(TOp.Apply<TPanel, TP>(TPanel.Load(ref t)), ref t);
            tail.Scatter(0, destination[k..]);
        }
    }
}
