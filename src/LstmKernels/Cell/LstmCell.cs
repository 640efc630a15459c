using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
public sealed partial class LstmCell
{
    private readonly PackedWeights packed;
    private readonly int stepThreads = 1;

    /// <summary>Packs the weights of <paramref name="parameters"/> for the fused step, as float32.</summary>
    /// <param name="parameters">The weights; copied, later changes to them are not seen by this cell.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    public LstmCell(LstmParameters parameters)
        : this(parameters, WeightPrecision.Float32)
    {
    }

    /// <summary>Packs the weights of <paramref name="parameters"/> for the fused step, stored in <paramref name="precision"/>.</summary>
    /// <param name="parameters">The weights; copied (and rounded), later changes to them are not seen by this cell.</param>
    /// <param name="precision">How the packed weights are stored; arithmetic is float32 either way.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value.</exception>
    /// <exception cref="ArgumentException"><paramref name="parameters"/> has peepholes (the fused cell has none; run them in an <see cref="Lstm"/>).</exception>
    public LstmCell(LstmParameters parameters, WeightPrecision precision)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (precision is not (WeightPrecision.Float32 or WeightPrecision.BFloat16 or WeightPrecision.Int8))
        {
            ThrowHelper.OutOfRange(nameof(precision), precision, "is not a defined WeightPrecision");
        }

        parameters.ThrowIfPeepholes(nameof(parameters), "the fused LstmCell");
        packed = new PackedWeights(parameters, precision, nameof(parameters));
    }

    /// <summary>I, the number of input features.</summary>
    public int InputSize => packed.Input;

    /// <summary>H, the number of hidden units.</summary>
    public int HiddenSize => packed.Hidden;

    /// <summary>
    /// Threads one <see cref="Forward"/> call may use: 1 (the default) or 2. With 2, the panels of a step are split
    /// between the calling thread and one thread-pool thread, and the call returns when both halves are done.
    /// This pays off only when a step is long enough to amortise handing work to another core (a few µs), so steps
    /// that stream less weights (B × <see cref="PackedBytes"/>) than 512 KiB, or than one core's L2 where that is
    /// smaller, stay on the calling thread; docs/benchmarks.md has the measurements and docs/kernels.md the rule, which
    /// reads the machine's cache sizes once per process. Results are bitwise the same as with 1 thread.
    /// <see cref="ForwardSequence"/> with 2 splits every step's panels the same way when the packed weights take at
    /// least 2 MiB (or twice one core's L2, if less; bitwise the one-thread result). For smaller cells with B·I·H ≥ 8192 it instead projects the inputs
    /// of the next chunk of steps on a thread-pool thread while the caller runs the recurrent steps of this chunk; those
    /// results are deterministic and within the same bounds, but not bitwise those of 1 thread (the projection is
    /// tiled by chunk).
    /// Steady-state calls allocate nothing themselves (one reusable work item per calling thread); under heavy load
    /// from elsewhere, the thread pool's own queue may grow its storage. A call never waits long for a pool thread
    /// that has not started its half: after 200 µs the caller runs that half itself, so a busy or saturated pool
    /// makes a call as slow as one thread (plus that wait), never blocked.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not 1 or 2.</exception>
    public int StepThreads
    {
        get => stepThreads;
        init
        {
            if (value is not (1 or 2))
            {
                ThrowHelper.OutOfRange(nameof(StepThreads), value, "must be 1 or 2");
            }

            stepThreads = value;
        }
    }

    /// <summary>How the packed weights are stored.</summary>
    public WeightPrecision Precision => packed.Precision;

    /// <summary>Bytes of packed weights one step streams (each weight once, plus padding of the last panel).</summary>
    public long PackedBytes => packed.Bytes;

    /// <summary>
    /// The weights this cell computes with, in PyTorch layout: the parameters it was built from, rounded to its
    /// <see cref="Precision"/> (unchanged for float32). A <see cref="Reference.ReferenceLstmCell"/> built from them
    /// checks a reduced-precision cell to float32 bounds; the difference from the original parameters is the cost of
    /// the precision.
    /// </summary>
    /// <returns>New parameters; the bias is the cell's, unrounded.</returns>
    public LstmParameters GetEffectiveParameters()
    {
        int input = packed.Input, hidden = packed.Hidden;
        var p = new LstmParameters(input, hidden);
        Span<float> wIh = p.WeightIh, wHh = p.WeightHh, bias = p.Bias;
        for (int gate = 0; gate < 4; gate++)
        {
            for (int unit = 0; unit < hidden; unit++)
            {
                int row = (gate * hidden) + unit;
                bias[row] = Unsafe.Add(ref packed.Bias(unit / PackedWeights.Width), (gate * PackedWeights.Width) + (unit % PackedWeights.Width));
                for (int j = 0; j < input; j++)
                {
                    wIh[(row * input) + j] = packed.Effective(gate, unit, j);
                }

                for (int j = 0; j < hidden; j++)
                {
                    wHh[(row * hidden) + j] = packed.Effective(gate, unit, input + j);
                }
            }
        }

        return p;
    }

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
        ThrowHelper.CheckLength(hPrev.Length, states, nameof(hPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(cPrev.Length, states, nameof(cPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(hNext.Length, states, nameof(hNext), ShapeText.RowState);
        ThrowHelper.CheckLength(cNext.Length, states, nameof(cNext), ShapeText.RowState);
        Aliasing.AllowExactOnly(hNext, hPrev, nameof(hNext), nameof(hPrev));
        Aliasing.Disjoint(hNext, x, nameof(hNext), nameof(x));
        Aliasing.Disjoint(hNext, cPrev, nameof(hNext), nameof(cPrev));
        Aliasing.Disjoint(hNext, cNext, nameof(hNext), nameof(cNext));
        Aliasing.AllowExactOnly(cNext, cPrev, nameof(cNext), nameof(cPrev));
        Aliasing.Disjoint(cNext, x, nameof(cNext), nameof(x));
        Aliasing.Disjoint(cNext, hPrev, nameof(cNext), nameof(hPrev));
        StepCore(batch, x, hPrev, cPrev, hNext, cNext);
    }

    /// <summary>
    /// Runs a whole sequence through the cell: T steps of B rows, time-major. The input projection
    /// <c>x·Wᵢₕᵀ + b</c> does not depend on h, so it is computed for many steps at once, as a matrix-matrix pass over
    /// Wᵢₕ, and each step only streams Wₕₕ. At batch 1 (float32, AVX-512, I ≥ 64, weights that stay in the core's
    /// cache: up to its L3 share of at most 4 MiB, or half its L2 where that is more) the projection
    /// of the next 8 steps is folded into the current steps' loops instead, where the FMA units would otherwise wait
    /// for Wₕₕ. With <see cref="StepThreads"/> = 2, each step is split by panels between two threads (weights of 2 MiB
    /// and more, or twice one core's L2 if less), or the projection runs on the second thread, a chunk ahead. The
    /// thresholds come from this machine's cache sizes, read once per process (docs/kernels.md).
    /// </summary>
    /// <param name="x">Inputs <c>[T, B, I]</c>; T = <c>x.Length / (B·I)</c>.</param>
    /// <param name="h0">Initial hidden state <c>[B, H]</c>; its length sets B.</param>
    /// <param name="c0">Initial cell state <c>[B, H]</c>.</param>
    /// <param name="y">Every hidden state <c>[T, B, H]</c> (<c>y[t]</c> = h after step t), or empty to keep only the last.</param>
    /// <param name="hT">Final hidden state <c>[B, H]</c>; may be the same memory as <paramref name="h0"/>.</param>
    /// <param name="cT">Final cell state <c>[B, H]</c>; may be the same memory as <paramref name="c0"/>.</param>
    /// <remarks>
    /// Gives the same values as T calls of <see cref="Forward"/> up to the order of the float additions: the
    /// input half and the recurrent half are summed separately (bound in docs/kernels.md). Zero allocation after the
    /// first call on a thread with the largest shape; thread-safe like <see cref="Forward"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// <paramref name="h0"/> is not a whole number of rows of H, <paramref name="x"/> not a whole number of steps
    /// of <c>[B, I]</c>, another length does not fit, or an output overlaps an input other than by the exact aliasing
    /// above.
    /// </exception>
    public void ForwardSequence(ReadOnlySpan<float> x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> y, Span<float> hT, Span<float> cT)
    {
        int input = packed.Input;
        int hidden = packed.Hidden;
        if (h0.Length % hidden != 0)
        {
            ThrowHelper.NotMultiple(nameof(h0), h0.Length, hidden, "rows of HiddenSize");
        }

        int batch = h0.Length / hidden;
        long step = (long)batch * input;
        if (batch == 0 ? x.Length != 0 : x.Length % step != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x.Length, step, "steps of [B, I] with B = h0.Length / HiddenSize");
        }

        int steps = batch == 0 ? 0 : (int)(x.Length / step);
        int states = batch * hidden;
        ThrowHelper.CheckLength(c0.Length, states, nameof(c0), "[B, H] with B = h0.Length / HiddenSize");
        ThrowHelper.CheckLength(hT.Length, states, nameof(hT), "[B, H] with B = h0.Length / HiddenSize");
        ThrowHelper.CheckLength(cT.Length, states, nameof(cT), "[B, H] with B = h0.Length / HiddenSize");
        if (!y.IsEmpty)
        {
            ThrowHelper.CheckLength(y.Length, (long)steps * states, nameof(y), "[T, B, H], or empty");
        }

        Aliasing.Sequence(x, h0, c0, y, hT, cT);

        SequenceCore(batch, SequenceInput.TimeMajor(x, steps, batch, input), h0, c0, SequenceOutput.TimeMajor(y, steps, batch, hidden), hT, cT);
    }
}
