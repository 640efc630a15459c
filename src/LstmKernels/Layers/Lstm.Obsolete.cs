namespace LstmKernels;

/// <summary>Members renamed or retired before 1.0, kept one release as forwarders (see docs/api.md, "Migration").</summary>
public sealed partial class Lstm
{
    /// <summary>Builds the LSTM; use <see cref="Create"/>.</summary>
    /// <param name="cells">Weights of each layer and direction, index <c>layer·D + direction</c>.</param>
    /// <param name="options">The options; null for <see cref="LstmOptions.Default"/>.</param>
    [Obsolete("Use Lstm.Create(cells, options). This constructor will be removed in the next release.")]
    public Lstm(IReadOnlyList<LstmParameters> cells, LstmOptions? options = null)
        : this(LayerSpec.Create(cells, options).CheckRoute())
    {
    }

    /// <summary>Builds the LSTM with projections; use <see cref="CreateProjected"/>.</summary>
    /// <param name="cells">Weights of each layer and direction, index <c>layer·D + direction</c>.</param>
    /// <param name="options">The options; null for <see cref="LstmOptions.Default"/>.</param>
    [Obsolete("Use Lstm.CreateProjected(cells, options). This constructor will be removed in the next release.")]
    public Lstm(IReadOnlyList<ProjectedLstmParameters> cells, LstmOptions? options = null)
        : this(LayerSpec.CreateProjected(cells, options).CheckRoute())
    {
    }

    /// <summary>True when every layer runs on the fused <see cref="LstmCell"/>: an implementation detail, leaving the public surface.</summary>
    [Obsolete("An implementation detail; it will be removed in the next release. The route is described in docs/architecture.md.")]
    public bool IsFused => engine.IsFused;

    /// <summary>A copy of the peepholes of one layer and direction, or null; use <see cref="GetParameters"/> and <see cref="LstmParameters.Peepholes"/>.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A new array of 3H <c>[P_i | P_f | P_o]</c>, or null.</returns>
    [Obsolete("Peepholes travel with the weights: use GetParameters(layer, direction).Peepholes. This method will be removed in the next release.")]
    public float[]? GetPeepholes(int layer, int direction) => engine.GetPeepholes(shape.Index(layer, direction));
}
