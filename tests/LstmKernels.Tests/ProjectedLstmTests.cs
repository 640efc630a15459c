using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>One generated configuration of an Lstm with projections (PyTorch's proj_size) and its data seed.</summary>
public sealed record ProjectedCase(
    int Input, int Hidden, int Projection, int Layers, int Batch, int Steps, LstmDirection Direction, bool BatchFirst, bool Lengths, bool Initial,
    bool Peepholes, float? Clip, int Seed);

/// <summary>
/// Lstm with projections (Lstm.cs, ProjectedLstmParameters.cs, LstmSession.cs) against its twin ReferenceLstm, against
/// PyTorch's equations written out here, streaming sessions, allocation, and bad input.
/// </summary>
[Properties(Arbitrary = [typeof(ProjectedLstmTests)], MaxTest = 100)]
public sealed class ProjectedLstmTests
{
    public static Arbitrary<ProjectedCase> Cases() =>
        Arb.From(
            from input in Gen.Choose(1, 20)
            from hidden in Gen.OneOf(Gen.Elements(2, 16, 17), Gen.Choose(2, 24))
            from projection in Gen.Choose(1, hidden - 1)
            from layers in Gen.Choose(1, 3)
            from batch in Gen.Elements(0, 1, 2, 3, 5)
            from steps in Gen.Choose(0, 6)
            from direction in Gen.Elements(LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional)
            from batchFirst in Gen.Elements(false, true)
            from lengths in Gen.Elements(false, true)
            from initial in Gen.Elements(false, true)
            from peepholes in Gen.Elements(false, false, true)
            from clip in Gen.Elements<float?>(null, null, 0.5f)
            from seed in Generators.Seed
            select new ProjectedCase(input, hidden, projection, layers, batch, steps, direction, batchFirst, lengths, initial, peepholes, clip, seed));

    [Property]
    public void Lstm_WithProjection_MatchesReference(ProjectedCase t)
    {
        (ProjectedLstmParameters[] cells, LstmOptions options, LstmLayerTests.Inputs data) = Build(t);
        var lstm = Lstm.CreateProjected(cells, options);
        var reference = new ReferenceLstm(cells, options);
        Assert.Equal((t.Projection, t.Directions() * t.Projection, false), (lstm.ProjectionSize, lstm.OutputSize, lstm.Engine.IsFused));
        LstmLayerTests.Outputs ours = Run(lstm.Forward, t, data);
        LstmLayerTests.Outputs twin = Run(reference.Forward, t, data);
        LstmLayerTests.Compare(twin, ours, t.Steps, t.Layers, t.ToString());

        // Past its length a row's outputs are exactly zero.
        int dp = lstm.OutputSize;
        for (int b = 0; b < data.Lengths.Length; b++)
        {
            for (int s = data.Lengths[b]; s < t.Steps; s++)
            {
                int at = t.BatchFirst ? ((b * t.Steps) + s) * dp : ((s * t.Batch) + b) * dp;
                Assert.True(ours.Y.AsSpan(at, dp).IndexOfAnyExcept(0f) < 0, $"row {b} step {s} not zero");
            }
        }
    }

    /// <summary>
    /// PyTorch's nn.LSTM(proj_size=P) written from its documentation in double, on the raw state_dict tensors (two
    /// biases): z = W_ih·x + b_ih + W_hh·h + b_hh (h of P), i, f, g, o, c = f⊙c + i⊙g (H), h = W_hr·(o⊙tanh(c)) (P);
    /// layer 1 takes [h_fwd, h_bwd] (2P); h0/h_n [L·D, B, P], c0/c_n [L·D, B, H].
    /// </summary>
    [Fact]
    public void Lstm_WithProjection_MatchesPyTorchEquations()
    {
        const int I = 3, H = 6, P = 4, L = 2, D = 2, B = 2, T = 5;
        int cellsCount = L * D;
        float bound = 1f / MathF.Sqrt(H);
        var wIh = new float[cellsCount][];
        var wHh = new float[cellsCount][];
        var bIh = new float[cellsCount][];
        var bHh = new float[cellsCount][];
        var wHr = new float[cellsCount][];
        var cells = new ProjectedLstmParameters[cellsCount];
        for (int k = 0; k < cellsCount; k++)
        {
            int inSize = k < D ? I : D * P;
            wIh[k] = Scaled(4 * H * inSize, bound, (10 * k) + 1);
            wHh[k] = Scaled(4 * H * P, bound, (10 * k) + 2);
            bIh[k] = Scaled(4 * H, bound, (10 * k) + 3);
            bHh[k] = Scaled(4 * H, bound, (10 * k) + 4);
            wHr[k] = Scaled(P * H, bound, (10 * k) + 5);
            cells[k] = ProjectedLstmParameters.FromPyTorch(inSize, H, P, wIh[k], wHh[k], bIh[k], bHh[k], wHr[k]);
        }

        float[] x = Generators.Fill(T * B * I, Dist.Unit, 77);
        float[] h0 = Generators.Fill(cellsCount * B * P, Dist.Unit, 78), c0 = Generators.Fill(cellsCount * B * H, Dist.Unit, 79);

        // Expected, in double.
        double[,,] layerIn = new double[T, B, I];
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                for (int m = 0; m < I; m++)
                {
                    layerIn[t, b, m] = x[(((t * B) + b) * I) + m];
                }
            }
        }

        double[] hN = new double[cellsCount * B * P], cN = new double[cellsCount * B * H];
        for (int layer = 0; layer < L; layer++)
        {
            int inSize = layer == 0 ? I : D * P;
            double[,,] layerOut = new double[T, B, D * P];
            for (int d = 0; d < D; d++)
            {
                int k = (layer * D) + d;
                for (int b = 0; b < B; b++)
                {
                    double[] h = new double[P], c = new double[H];
                    for (int q = 0; q < P; q++)
                    {
                        h[q] = h0[(((k * B) + b) * P) + q];
                    }

                    for (int j = 0; j < H; j++)
                    {
                        c[j] = c0[(((k * B) + b) * H) + j];
                    }

                    for (int s = 0; s < T; s++)
                    {
                        int t = d == 0 ? s : T - 1 - s;
                        double[] gate = new double[4 * H];
                        for (int r = 0; r < 4 * H; r++)
                        {
                            double z = bIh[k][r] + bHh[k][r];
                            for (int m = 0; m < inSize; m++)
                            {
                                z += wIh[k][(r * inSize) + m] * layerIn[t, b, m];
                            }

                            for (int q = 0; q < P; q++)
                            {
                                z += wHh[k][(r * P) + q] * h[q];
                            }

                            gate[r] = z;
                        }

                        double[] full = new double[H];
                        for (int j = 0; j < H; j++)
                        {
                            double i = Sigmoid(gate[j]), f = Sigmoid(gate[H + j]), g = Math.Tanh(gate[(2 * H) + j]), o = Sigmoid(gate[(3 * H) + j]);
                            c[j] = (f * c[j]) + (i * g);
                            full[j] = o * Math.Tanh(c[j]);
                        }

                        for (int q = 0; q < P; q++)
                        {
                            double sum = 0;
                            for (int j = 0; j < H; j++)
                            {
                                sum += wHr[k][(q * H) + j] * full[j];
                            }

                            h[q] = sum;
                            layerOut[t, b, (d * P) + q] = sum;
                        }
                    }

                    h.CopyTo(hN, ((k * B) + b) * P);
                    c.CopyTo(cN, ((k * B) + b) * H);
                }
            }

            layerIn = layerOut;
        }

        var lstm = Lstm.CreateProjected(cells, new LstmOptions { Direction = LstmDirection.Bidirectional });
        float[] y = new float[T * B * D * P], hT = new float[hN.Length], cT = new float[cN.Length];
        lstm.Forward(B, x, h0, c0, y, hT, cT);
        double tolerance = Tolerances.Layer(T, L, 1);
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                for (int m = 0; m < D * P; m++)
                {
                    Check.Near(layerIn[t, b, m], y[(((t * B) + b) * D * P) + m], tolerance, "y", (((t * B) + b) * D * P) + m);
                }
            }
        }

        for (int k = 0; k < hN.Length; k++)
        {
            Check.Near(hN[k], hT[k], tolerance, "h_n", k);
        }

        for (int k = 0; k < cN.Length; k++)
        {
            Check.Near(cN[k], cT[k], Tolerances.Layer(T, L, cN[k]), "c_n", k);
        }
    }

    /// <summary>A session steps the projected LSTM as Forward runs it (h [L, B, P], c [L, B, H]), allocation-free; so is Forward.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Session_MatchesForward_AndNothingAllocates(bool clip)
    {
        const int I = 5, H = 9, P = 4, B = 3, T = 6;
        var lstm = Lstm.CreateProjected(
            [ProjectedLstmParameters.CreateRandom(I, H, P, 1), ProjectedLstmParameters.CreateRandom(P, H, P, 2)],
            clip ? new LstmOptions { Clip = 2 } : null);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 3);
        float[] h0 = Generators.Fill(2 * B * P, Dist.Unit, 4), c0 = Generators.Fill(2 * B * H, Dist.Unit, 5);
        float[] y = new float[T * B * P], hT = new float[2 * B * P], cT = new float[2 * B * H];
        lstm.Forward(B, x, h0, c0, y, hT, cT);
        LstmSession session = lstm.CreateSession(B);
        Assert.Equal((2 * B * P, 2 * B * H), (session.HiddenState.Length, session.CellState.Length));
        session.Reset(h0, c0);
        float[] yt = new float[B * P];
        for (int t = 0; t < T; t++)
        {
            session.Step(x.AsSpan(t * B * I, B * I), yt);
            for (int k = 0; k < yt.Length; k++)
            {
                Check.Near(y[(t * B * P) + k], yt[k], Tolerances.Layer(T, 2, 1), $"session step {t}", k);
            }
        }

        for (int k = 0; k < hT.Length; k++)
        {
            Check.Near(hT[k], session.HiddenState[k], Tolerances.Layer(T, 2, 1), "session h", k);
        }

        for (int k = 0; k < cT.Length; k++)
        {
            Check.Near(cT[k], session.CellState[k], Tolerances.Layer(T, 2, cT[k]), "session c", k);
        }

        float[] xt = x.AsSpan(0, B * I).ToArray();
        Assert.Equal(0, Allocation.Measure(() => session.Step(xt, yt), warmUp: 50, iterations: 500));
        int[] lengths = [6, 2, 0];
        Assert.Equal(0, Allocation.Measure(() => lstm.Forward(B, x, hT, cT, y, hT, cT, lengths), warmUp: 20, iterations: 200));
    }

    /// <summary>hT and cT may be the very buffers of h0 and c0 (with their different sizes P and H).</summary>
    [Fact]
    public void Lstm_WithProjection_InPlaceStates()
    {
        var lstm = Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(3, 5, 2, 1), ProjectedLstmParameters.CreateRandom(3, 5, 2, 2)], new LstmOptions { Direction = LstmDirection.Bidirectional });
        float[] x = Generators.Fill(4 * 2 * 3, Dist.Unit, 3);
        float[] h0 = Generators.Fill(2 * 2 * 2, Dist.Unit, 4), c0 = Generators.Fill(2 * 2 * 5, Dist.Unit, 5);
        float[] hSep = new float[h0.Length], cSep = new float[c0.Length], y1 = new float[4 * 2 * 4], y2 = new float[y1.Length];
        lstm.Forward(2, x, h0, c0, y1, hSep, cSep, [4, 2]);
        float[] h = (float[])h0.Clone(), c = (float[])c0.Clone();
        lstm.Forward(2, x, h, c, y2, h, c, [4, 2]);
        Check.BitwiseEqual(hSep, h, "hT in place");
        Check.BitwiseEqual(cSep, c, "cT in place");
        Check.BitwiseEqual(y1, y2, "y with states in place");
    }

    [Fact]
    public void Throws()
    {
        const int I = 2, H = 4, P = 3, G = 4 * H;
        float[] w = new float[G * I], r = new float[G * P], b = new float[G], hr = new float[P * H];
        Check.Throws<ArgumentOutOfRangeException>("projectionSize", () => _ = new ProjectedLstmParameters(I, H, H));
        Check.Throws<ArgumentOutOfRangeException>("projectionSize", () => _ = new ProjectedLstmParameters(I, H, 0));
        Check.Throws<ArgumentOutOfRangeException>("inputSize", () => _ = new ProjectedLstmParameters(0, H, P));
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => _ = new ProjectedLstmParameters(I, 0, P));
        Check.Throws<ArgumentOutOfRangeException>("projectionSize", () => ProjectedLstmParameters.CreateRandom(I, H, 5, 1));
        Check.Throws<ArgumentException>("weightHh", () => ProjectedLstmParameters.FromPyTorch(I, H, P, w, new float[G * H], b, b, hr));
        Check.Throws<ArgumentException>("weightHr", () => ProjectedLstmParameters.FromPyTorch(I, H, P, w, r, b, b, new float[H * P + 1]));
        Check.Throws<ArgumentException>("weightHr", () => ProjectedLstmParameters.FromPyTorch(I, H, P, w, r, b, b, [float.NaN, .. new float[(P * H) - 1]]));
        Check.Throws<ArgumentException>("weightIh", () => ProjectedLstmParameters.FromPyTorch(I, H, P, new float[1], r, b, b, hr));
        Check.Throws<ArgumentException>("biasHh", () => ProjectedLstmParameters.FromPyTorch(I, H, P, w, r, b, new float[G - 1], hr));
        ProjectedLstmParameters p = ProjectedLstmParameters.FromPyTorch(I, H, P, w, r, b, default, hr);
        Check.Throws<ArgumentException>("weightHr", () => p.ToPyTorch(w, r, b, b, new float[1]));
        Check.Throws<ArgumentException>("weightHh", () => p.ToPyTorch(w, new float[G * H], b, b, hr));

        Check.Throws<ArgumentNullException>("cells", () => _ = Lstm.CreateProjected((IReadOnlyList<ProjectedLstmParameters>)null!));
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.CreateProjected([p, null!], new LstmOptions { Direction = LstmDirection.Bidirectional }));
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.CreateProjected([p, new ProjectedLstmParameters(I, H, 2)], new LstmOptions { Direction = LstmDirection.Bidirectional }));
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.CreateProjected([p, new ProjectedLstmParameters(H, H, P)]));
#pragma warning disable CS0618 // Cells with projections take peepholes only through the obsolete option, tested while it lasts.
        Check.Throws<ArgumentException>("options", () => _ = Lstm.CreateProjected([p], new LstmOptions { Peepholes = [new float[3 * P]] }));
#pragma warning restore CS0618

        var lstm = Lstm.CreateProjected([p, new ProjectedLstmParameters(P, H, P)]);
        float[] x = new float[2 * I];
        Check.Throws<ArgumentException>("h0", () => lstm.Forward(1, x, new float[2 * H], default, default, default, default));
        Check.Throws<ArgumentException>("c0", () => lstm.Forward(1, x, default, new float[2 * P], default, default, default));
        Check.Throws<ArgumentException>("hT", () => lstm.Forward(1, x, default, default, default, new float[2 * H], default));
        Check.Throws<ArgumentException>("y", () => lstm.Forward(1, x, default, default, new float[2 * H], default, default));
        Assert.Throws<InvalidOperationException>(() => lstm.GetParameters(0, 0));
        Assert.Throws<InvalidOperationException>(() => Lstm.Create([LstmParameters.CreateRandom(I, H, 1)]).GetProjectedParameters(0, 0));
        Check.Throws<ArgumentOutOfRangeException>("layer", () => lstm.GetProjectedParameters(2, 0));
        LstmSession session = lstm.CreateSession();
        Check.Throws<ArgumentException>("y", () => session.Step(new float[I], new float[H]));
        Check.Throws<ArgumentException>("h0", () => session.Reset(new float[2 * H], new float[2 * H]));
        Check.Throws<ArgumentException>("cells", () => _ = new ReferenceLstm([p, p]));
    }

    // ---------------------------------------------------------------- helpers



    private static (ProjectedLstmParameters[] Cells, LstmOptions Options, LstmLayerTests.Inputs Data) Build(ProjectedCase t)
    {
        int d = t.Directions();
        var cells = new ProjectedLstmParameters[t.Layers * d];
        var peepholes = new float[cells.Length][];
        for (int k = 0; k < cells.Length; k++)
        {
            cells[k] = ProjectedLstmParameters.CreateRandom(k < d ? t.Input : d * t.Projection, t.Hidden, t.Projection, t.Seed + k);
            peepholes[k] = Generators.Fill(3 * t.Hidden, Dist.Unit, t.Seed - k);
        }

#pragma warning disable CS0618 // Cells with projections take peepholes only through the obsolete option, tested while it lasts.
        var options = new LstmOptions { Direction = t.Direction, BatchFirst = t.BatchFirst, Peepholes = t.Peepholes ? peepholes : null, Clip = t.Clip };
#pragma warning restore CS0618
        int cellCount = t.Layers * d * t.Batch;
#pragma warning disable CA5394 // Test data.
        var random = new Random(t.Seed);
        int[] lengths = t.Lengths ? Enumerable.Range(0, t.Batch).Select(_ => random.Next(0, t.Steps + 1)).ToArray() : [];
#pragma warning restore CA5394
        var data = new LstmLayerTests.Inputs(
            Generators.Fill(t.Steps * t.Batch * t.Input, Dist.Unit, t.Seed + 100),
            t.Initial ? Generators.Fill(cellCount * t.Projection, Dist.Unit, t.Seed + 101) : [],
            t.Initial ? Generators.Fill(cellCount * t.Hidden, Dist.Unit, t.Seed + 102) : [],
            lengths);
        return (cells, options, data);
    }

    /// <summary>
    /// Runs with the projected shapes; compared with <see cref="LstmLayerTests.Compare"/>, whose bound
    /// (<see cref="Tolerances.Layer"/>) holds here too: the projection adds one float sum of H terms per step with
    /// |w| ≤ 1/√H and |o⊙tanh c| ≤ 1, an error of the order of the gate sums' (held with 1000 generated cases).
    /// </summary>
    private static LstmLayerTests.Outputs Run(LstmLayerTests.ForwardCall forward, ProjectedCase t, LstmLayerTests.Inputs data)
    {
        int cells = t.Layers * t.Directions() * t.Batch;
        return LstmLayerTests.Run(forward, t.Batch, data, t.Steps * t.Batch * t.Directions() * t.Projection, cells * t.Projection, cells * t.Hidden);
    }

    private static float[] Scaled(int length, float bound, int seed)
    {
        float[] values = Generators.Fill(length, Dist.Unit, seed);
        for (int k = 0; k < values.Length; k++)
        {
            values[k] *= bound;
        }

        return values;
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
}

internal static class ProjectedCaseExtensions
{
    public static int Directions(this ProjectedCase t) => t.Direction == LstmDirection.Bidirectional ? 2 : 1;
}
