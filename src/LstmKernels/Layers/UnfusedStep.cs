using System.Numerics.Tensors;

namespace LstmKernels.Internal;

/// <summary>The weights of one layer and direction as the unfused step reads them.</summary>
internal readonly ref struct UnfusedWeights
{
    public UnfusedWeights(ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> bias, ReadOnlySpan<float> weightHr, ReadOnlySpan<float> peepholes)
    {
        WeightIh = weightIh;
        WeightHh = weightHh;
        Bias = bias;
        WeightHr = weightHr;
        Peepholes = peepholes;
    }

    /// <summary><c>[4H, I]</c>.</summary>
    public ReadOnlySpan<float> WeightIh { get; }

    /// <summary><c>[4H, S]</c>, S = P with projections, else H.</summary>
    public ReadOnlySpan<float> WeightHh { get; }

    /// <summary><c>[4H]</c>.</summary>
    public ReadOnlySpan<float> Bias { get; }

    /// <summary><c>[P, H]</c>, or empty without projections.</summary>
    public ReadOnlySpan<float> WeightHr { get; }

    /// <summary><c>[P_i | P_f | P_o]</c> (3H), or empty without peepholes.</summary>
    public ReadOnlySpan<float> Peepholes { get; }

    public bool Projects => !WeightHr.IsEmpty;
}

/// <summary>The scratch of one unfused step of B rows (sized for H units, P state units).</summary>
internal readonly ref struct UnfusedScratch
{
    public UnfusedScratch(Span<float> recurrent, Span<float> hFull, Span<float> hProjected, Span<float> hNext, Span<float> cNext)
    {
        Recurrent = recurrent;
        HFull = hFull;
        HProjected = hProjected;
        HNext = hNext;
        CNext = cNext;
    }

    /// <summary><c>[B, 4H]</c>: <c>h·W_hhᵀ</c>.</summary>
    public Span<float> Recurrent { get; }

    /// <summary><c>[B, H]</c>: <c>o ⊙ tanh(c)</c> before the projection (projections only).</summary>
    public Span<float> HFull { get; }

    /// <summary><c>[B, P]</c>: the projected h (projections only).</summary>
    public Span<float> HProjected { get; }

    /// <summary><c>[H]</c>.</summary>
    public Span<float> HNext { get; }

    /// <summary><c>[H]</c>.</summary>
    public Span<float> CNext { get; }
}

/// <summary>
/// The one unfused LSTM step, shared by <see cref="Lstm.Forward"/> (options the fused cell does not have, and
/// projections), <see cref="LstmSession"/> and training: <c>z = (x·W_ihᵀ + b) + h·W_hhᵀ</c>, the input half computed
/// by the caller (for all steps at once, or for this step), then the pointwise stage with every option, then the
/// projection, through the kernels' unchecked entries (the callers checked their arguments once). One formula everywhere (the input half and the recurrent half summed separately, then the options);
/// the bits of a row can still differ between a session and a whole-sequence forward where <see cref="Kernels.Linear"/>
/// puts the row in a different place of its four-row tile.
/// </summary>
internal static class UnfusedStep
{
    /// <summary><c>z += h·W_hhᵀ</c> for every row (h has <paramref name="stateSize"/> units); <paramref name="recurrent"/> is scratch of z's length.</summary>
    public static void AddRecurrent(int stateSize, ReadOnlySpan<float> h, ReadOnlySpan<float> weightHh, Span<float> recurrent, Span<float> z)
    {
        Kernels.LinearUnchecked(stateSize, h, weightHh, default, recurrent);
        TensorPrimitives.Add(recurrent, z, z);
    }

    /// <summary>
    /// One step for the rows of <paramref name="h"/> and <paramref name="c"/> (updated in place): <paramref name="z"/>
    /// <c>[B, 4H]</c> holds each row's input half on entry and is overwritten. A row b with
    /// <c>lengths[b] ≤ k</c> has stopped: its state stays as it is (empty lengths: every row runs).
    /// </summary>
    public static void Step(
        scoped in UnfusedWeights w, LstmOptions options, int hidden, Span<float> z, Span<float> h, Span<float> c,
        scoped in UnfusedScratch s, ReadOnlySpan<int> lengths, int k)
    {
        int g4 = 4 * hidden;
        int batch = c.Length / hidden;
        int state = batch == 0 ? 0 : h.Length / batch;
        AddRecurrent(state, h, w.WeightHh, s.Recurrent[..z.Length], z);

        // Every row has read h through the recurrent product above, so rows may now overwrite their own h.
        for (int b = 0; b < batch; b++)
        {
            if (!lengths.IsEmpty && k >= lengths[b])
            {
                continue;
            }

            Span<float> cb = c.Slice(b * hidden, hidden);
            Span<float> hOut = w.Projects ? s.HFull.Slice(b * hidden, hidden) : s.HNext;
            PointwiseRow(options, w.Peepholes, z.Slice(b * g4, g4), cb, hOut, s.CNext);
            s.CNext.CopyTo(cb);
            if (!w.Projects)
            {
                hOut.CopyTo(h.Slice(b * hidden, hidden));
            }
        }

        if (w.Projects)
        {
            Span<float> projected = s.HProjected[..(batch * state)];
            Kernels.LinearUnchecked(hidden, s.HFull[..(batch * hidden)], w.WeightHr, default, projected);
            for (int b = 0; b < batch; b++)
            {
                if (lengths.IsEmpty || k < lengths[b])
                {
                    projected.Slice(b * state, state).CopyTo(h.Slice(b * state, state));
                }
            }
        }
    }

    /// <summary>
    /// The pointwise stage of one row with every option, from pre-activations <paramref name="z"/> <c>[4H]</c>
    /// (overwritten) and <paramref name="cPrev"/> to <paramref name="h"/> and <paramref name="c"/> (distinct from cPrev).
    /// </summary>
    public static void PointwiseRow(LstmOptions o, ReadOnlySpan<float> peepholes, Span<float> z, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        int n = c.Length;
        Span<float> zi = z[..n];
        Span<float> zf = z.Slice(n, n);
        Span<float> zg = z.Slice(2 * n, n);
        Span<float> zo = z.Slice(3 * n, n);
        bool peep = !peepholes.IsEmpty;
        if (peep)
        {
            TensorPrimitives.MultiplyAdd(cPrev, peepholes[..n], zi, zi);
        }

        Activate(zi, o.GateActivation, o.Clip);
        if (o.InputForget)
        {
            TensorPrimitives.Subtract(1f, zi, zf);
        }
        else
        {
            if (peep)
            {
                TensorPrimitives.MultiplyAdd(cPrev, peepholes.Slice(n, n), zf, zf);
            }

            Activate(zf, o.GateActivation, o.Clip);
        }

        Activate(zg, o.CellActivation, o.Clip);
        Kernels.CellUpdateUnchecked(zf, cPrev, zi, zg, c);
        if (peep)
        {
            TensorPrimitives.MultiplyAdd(c, peepholes.Slice(2 * n, n), zo, zo);
        }

        Activate(zo, o.GateActivation, o.Clip);
        if (o.HiddenActivation == LstmActivation.Tanh)
        {
            Kernels.HiddenUpdateUnchecked(zo, c, h);
        }
        else
        {
            c.CopyTo(h);
            Activate(h, o.HiddenActivation, null);
            TensorPrimitives.Multiply(zo, h, h);
        }
    }

    private static void Activate(Span<float> values, LstmActivation activation, float? clip)
    {
        if (clip is float bound)
        {
            TensorPrimitives.Max(values, -bound, values);
            TensorPrimitives.Min(values, bound, values);
        }

        switch (activation)
        {
            case LstmActivation.Sigmoid: Kernels.SigmoidUnchecked(values, values); break;
            case LstmActivation.Tanh: Kernels.TanhUnchecked(values, values); break;
            default: TensorPrimitives.Max(values, 0f, values); break;
        }
    }
}
