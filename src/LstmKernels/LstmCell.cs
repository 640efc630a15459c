using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// One LSTM cell with its weights packed once for the fused step. Steps a batch of B rows at a time with zero
/// allocation; safe to step from many threads at once (each on its own state).
/// </summary>
/// <remarks>
/// <para>Equations (PyTorch's <c>nn.LSTMCell</c>), gate order i, f, g, o:
/// <c>z = x·Wᵢₕᵀ + hPrev·Wₕₕᵀ + b; i, f, o = σ(zᵢ, z_f, zₒ); g = tanh(z_g); c = f⊙cPrev + i⊙g; h = o⊙tanh(c)</c>.</para>
/// <para>The step walks the packed weights once (panels of 16 units × 4 gates, one sequential stream per panel),
/// accumulates the gates in registers and applies the pointwise stage there; see docs/kernels.md for the
/// layout and the error bound against <see cref="Reference.ReferenceLstmCell"/>.</para>
/// <para>Thread safety: the packed weights are read-only after construction, and the only scratch a step uses
/// (a copy of <c>concat(x, hPrev)</c>) is per thread, so concurrent <see cref="Forward"/> calls on different
/// states are safe and give bitwise the same results as running them one after another.</para>
/// </remarks>
public sealed class LstmCell
{
    /// <summary>Shape text for length errors; constant so that a valid call builds no string.</summary>
    internal const string StateShape = "[B, H] with B = x.Length / InputSize";

    [ThreadStatic]
    private static float[]? stepInput;

    private readonly PackedWeights packed;

    /// <summary>Packs the weights of <paramref name="parameters"/> for the fused step.</summary>
    /// <param name="parameters">The weights; copied, later changes to them are not seen by this cell.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    public LstmCell(LstmParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        packed = new PackedWeights(parameters, nameof(parameters));
    }

    /// <summary>I, the number of input features.</summary>
    public int InputSize => packed.Input;

    /// <summary>H, the number of hidden units.</summary>
    public int HiddenSize => packed.Hidden;

    /// <summary>Bytes of packed weights one step streams (each weight once, plus padding of the last panel).</summary>
    public long PackedBytes => packed.Bytes;

    /// <summary>One step for a batch of B = <c>x.Length / InputSize</c> rows.</summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="hPrev">Previous hidden state <c>[B, H]</c>.</param>
    /// <param name="cPrev">Previous cell state <c>[B, H]</c>.</param>
    /// <param name="hNext">New hidden state <c>[B, H]</c>; may be the same memory as <paramref name="hPrev"/>.</param>
    /// <param name="cNext">New cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <remarks>
    /// In place (<c>Forward(x, h, c, h, c)</c>) gives the same result as separate buffers. NaN or ∞ in an input
    /// propagates to the units that depend on it; finite inputs never give NaN.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// <paramref name="x"/> is not a whole number of rows of I, a state does not hold B·H values, or an output
    /// overlaps an input other than by the exact aliasing above (or the other output).
    /// </exception>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int input = packed.Input;
        int hidden = packed.Hidden;
        if (x.Length % input != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x.Length, input, $"rows of InputSize = {input}");
        }

        int batch = x.Length / input;
        long states = (long)batch * hidden;
        ThrowHelper.CheckLength(hPrev.Length, states, nameof(hPrev), StateShape);
        ThrowHelper.CheckLength(cPrev.Length, states, nameof(cPrev), StateShape);
        ThrowHelper.CheckLength(hNext.Length, states, nameof(hNext), StateShape);
        ThrowHelper.CheckLength(cNext.Length, states, nameof(cNext), StateShape);
        Aliasing.AllowExactOnly(hNext, hPrev, nameof(hNext), nameof(hPrev));
        Aliasing.Disjoint(hNext, x, nameof(hNext), nameof(x));
        Aliasing.Disjoint(hNext, cPrev, nameof(hNext), nameof(cPrev));
        Aliasing.Disjoint(hNext, cNext, nameof(hNext), nameof(cNext));
        Aliasing.AllowExactOnly(cNext, cPrev, nameof(cNext), nameof(cPrev));
        Aliasing.Disjoint(cNext, x, nameof(cNext), nameof(x));
        Aliasing.Disjoint(cNext, hPrev, nameof(cNext), nameof(hPrev));

        // The step reads all of hPrev for every panel, so it works from a per-thread copy of concat(x, hPrev):
        // hNext may then overwrite hPrev, and x and h are one contiguous input per row.
        int k = input + hidden;
        Span<float> v = StepInput(batch * k);
        for (int b = 0; b < batch; b++)
        {
            x.Slice(b * input, input).CopyTo(v.Slice(b * k, input));
            hPrev.Slice(b * hidden, hidden).CopyTo(v.Slice((b * k) + input, hidden));
        }

        switch (Kernels.ActivePath)
        {
            case SimdPath.Vector512: FusedStep<Panel512, Vector512<float>>.Run(packed, batch, v, cPrev, hNext, cNext); break;
            case SimdPath.Vector256: FusedStep<Panel256, Pair256>.Run(packed, batch, v, cPrev, hNext, cNext); break;
            case SimdPath.Vector128: FusedStep<Panel128, Quad128>.Run(packed, batch, v, cPrev, hNext, cNext); break;
            default: FusedStep<PanelScalar, Scalar16>.Run(packed, batch, v, cPrev, hNext, cNext); break;
        }
    }

    private static Span<float> StepInput(int length)
    {
        float[]? buffer = stepInput;
        if (buffer is null || buffer.Length < length)
        {
            // Grows once per thread to the largest step seen; steady-state steps allocate nothing.
            stepInput = buffer = new float[Math.Max(length, 256)];
        }

        return buffer.AsSpan(0, length);
    }
}
