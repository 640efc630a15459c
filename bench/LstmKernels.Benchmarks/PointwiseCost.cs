namespace LstmKernels.Benchmarks;

/// <summary>
/// The pointwise stage of one step of B rows of H units on its own: <see cref="Kernels.LstmPointwise"/> over a
/// <c>[B, 4H]</c> tile of pre-activations (σ and tanh through the same panel code as the fused step, five per unit, and
/// the cell update). No floor counts this work, and every implementation does it once per unit and step; the quick
/// report prints it beside the floors so that "× (floor + pointwise)" shows what is left after the work no layout can avoid.
/// </summary>
internal sealed class PointwiseCost
{
    private readonly int hidden;
    private readonly float[] gates;
    private readonly float[] cPrev;
    private readonly float[] h;
    private readonly float[] c;

    public PointwiseCost(int batch, int hidden)
    {
        this.hidden = hidden;
        gates = Data.Uniform(batch * 4 * hidden, 3f, seed: 11);
        cPrev = Data.Uniform(batch * hidden, 1f, seed: 12);
        h = new float[batch * hidden];
        c = new float[batch * hidden];
    }

    /// <summary>One step's pointwise stage.</summary>
    public void Run() => Kernels.LstmPointwise(hidden, gates, cPrev, h, c);

    /// <summary>The stage once per step of a <see cref="PeerModel.SequenceSteps"/>-step sequence.</summary>
    public void RunSequence()
    {
        for (int t = 0; t < PeerModel.SequenceSteps; t++)
        {
            Run();
        }
    }
}
