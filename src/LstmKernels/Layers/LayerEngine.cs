using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// The engine under <see cref="Lstm"/> and <see cref="LstmSession"/>: each layer's and direction's weights in the one
/// form that runs them (packed <see cref="LstmCell"/>s on the fused route, the parameters on the unfused one), and
/// the two ways of running them: whole sequences (<see cref="Forward"/>) and one step of a stream (<see cref="Step"/>).
/// Callers check their arguments first; nothing here checks again.
/// </summary>
internal sealed partial class LayerEngine
{
    private readonly LstmCell[]? fused;
    private readonly LstmParameters[]? cells;
    private readonly ProjectedLstmParameters[]? projected;
    private readonly float[]?[] peepholes;

    /// <summary>Takes the weights of <paramref name="spec"/>: packed into cells when every layer can run fused, else as they are.</summary>
    public LayerEngine(LayerSpec spec)
    {
        Shape = spec.Shape;

        // Plain cells carry their own peepholes; only cells with projections take them from the spec.
        peepholes = spec.Projected is not null ? spec.Peepholes : new float[]?[spec.Peepholes.Length];
        if (spec.IsPlain)
        {
            // The packed cells are the only copy: GetParameters reads the weights back out of them.
            LstmParameters[] source = spec.Cells!;
            fused = new LstmCell[source.Length];
            for (int k = 0; k < fused.Length; k++)
            {
                fused[k] = new LstmCell(source[k], Shape.Options.Precision) { StepThreads = Shape.Options.StepThreads };
            }
        }
        else
        {
            cells = spec.Cells;
            projected = spec.Projected;
        }
    }

    public LayerShape Shape { get; }

    public bool IsFused => fused is not null;

    /// <summary>Whether any cell has peepholes.</summary>
    public bool HasPeepholes => Array.Exists(peepholes, p => p is not null) || (cells is not null && Array.Exists(cells, c => c.HasPeepholes));

    /// <summary>Bytes of weights this engine holds (packed cells, or the parameters and peepholes of the unfused route).</summary>
    public long WeightBytes
    {
        get
        {
            long bytes = 0;
            for (int k = 0; k < peepholes.Length; k++)
            {
                bytes += fused is not null ? fused[k].PackedBytes
                    : cells is not null ? sizeof(float) * (long)(cells[k].WeightIh.Length + cells[k].WeightHh.Length + cells[k].Bias.Length)
                    : sizeof(float) * (long)(projected![k].WeightIh.Length + projected[k].WeightHh.Length + projected[k].Bias.Length + projected[k].WeightHr.Length);
                bytes += sizeof(float) * (long)((peepholes[k]?.Length ?? 0) + (cells?[k].Peepholes.Length ?? 0));
            }

            return bytes;
        }
    }

    /// <summary>A copy of the weights of cell <paramref name="index"/>: on the fused route read back from the packed cell (exact in float32, the rounded weights in bfloat16 and int8).</summary>
    public LstmParameters? GetParameters(int index) => fused is not null ? fused[index].GetEffectiveParameters() : cells?[index].Clone();

    public ProjectedLstmParameters? GetProjectedParameters(int index) => projected?[index].Clone();

    public float[]? GetPeepholes(int index) =>
        cells is not null ? (cells[index].HasPeepholes ? cells[index].Peepholes.ToArray() : null) : (float[]?)peepholes[index]?.Clone();

    /// <summary>The packed cell of <paramref name="index"/> on the fused route, else null.</summary>
    public LstmCell? FusedCell(int index) => fused?[index];

    /// <summary>The scratch floats a session of <paramref name="batch"/> rows needs for <see cref="Step"/> (none on the fused route).</summary>
    public int StepScratchLength(int batch) =>
        fused is not null ? 0 : (10 * batch * Shape.HiddenSize) + (2 * Shape.HiddenSize);

    /// <summary>
    /// One step of layer <paramref name="layer"/> (forward direction) for <paramref name="batch"/> rows: the state
    /// <paramref name="h"/> <c>[B, S]</c> and <paramref name="c"/> <c>[B, H]</c> in place, from <paramref name="x"/>.
    /// </summary>
    public void Step(int layer, int batch, ReadOnlySpan<float> x, Span<float> h, Span<float> c, Span<float> scratch)
    {
        if (fused is not null)
        {
            fused[layer].StepCore(batch, x, h, c, h, c);
            return;
        }

        int hidden = Shape.HiddenSize;
        int g4 = 4 * batch * hidden;
        Span<float> z = scratch[..g4];
        UnfusedWeights w = Weights(layer);
        var s = new UnfusedScratch(
            scratch.Slice(g4, g4),
            scratch.Slice(2 * g4, batch * hidden),
            scratch.Slice((2 * g4) + (batch * hidden), batch * hidden),
            scratch.Slice((2 * g4) + (2 * batch * hidden), hidden),
            scratch.Slice((2 * g4) + (2 * batch * hidden) + hidden, hidden));
        Kernels.LinearUnchecked(x.Length / batch, x, w.WeightIh, w.Bias, z);
        UnfusedStep.Step(w, Shape.Options, hidden, z, h, c, s, default, 0);
    }

    private UnfusedWeights Weights(int index)
    {
        ReadOnlySpan<float> p = peepholes[index];
        if (projected is not null)
        {
            ProjectedLstmParameters q = projected[index];
            return new UnfusedWeights(q.WeightIh, q.WeightHh, q.Bias, q.WeightHr, p);
        }

        LstmParameters c = cells![index];
        return new UnfusedWeights(c.WeightIh, c.WeightHh, c.Bias, default, c.Peepholes);
    }
}
