using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>LstmParameters and the numpy seed: FromSeed, ToSeed and the seed's own equations.</summary>
public sealed partial class LstmParametersTests
{
    // ---------------------------------------------------------------- FromSeed

    /// <summary>
    /// The seed's layout mapped element by element: WeightIh[g·H + j, m] = W_g[H + m, j], WeightHh[g·H + j, k] =
    /// W_g[k, j], Bias[g·H + j] = b_g[j], with our gate blocks g = i, f, g, o taken from the seed's W_i, W_f, W_C, W_o.
    /// </summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(17, 16)]
    public void FromSeed_MapsEveryElement(int input, int hidden)
    {
        SeedWeights s = SeedWeights.Create(input, hidden, 12);
        LstmParameters p = s.ToParameters();
        float[][] ours = [s.WI, s.WF, s.WC, s.WO];
        float[][] ourBias = [s.BI, s.BF, s.BC, s.BO];
        for (int g = 0; g < 4; g++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int row = (g * hidden) + j;
                for (int m = 0; m < input; m++)
                {
                    Assert.Equal(ours[g][((hidden + m) * hidden) + j], p.WeightIh[(row * input) + m]);
                }

                for (int k = 0; k < hidden; k++)
                {
                    Assert.Equal(ours[g][(k * hidden) + j], p.WeightHh[(row * hidden) + k]);
                }

                Assert.Equal(ourBias[g][j], p.Bias[row]);
            }
        }
    }

    /// <summary>
    /// Round trip through the seed's equations: weights built in the seed's layout (a different matrix per gate),
    /// FromSeed, then ReferenceLstmCell and LstmCell built from the result against the seed's forward computed here
    /// directly (concat(h, x)·W_g + b_g; f, i, o sigmoid; C̃ tanh; C = f·C_prev + i·C̃; h = o·tanh(C)).
    /// </summary>
    [Theory]
    [InlineData(3, 5, 1)]
    [InlineData(2, 17, 3)]
    [InlineData(8, 16, 5)]
    public void FromSeed_RoundTripThroughTheSeedEquations(int input, int hidden, int batch)
    {
        SeedWeights s = SeedWeights.Create(input, hidden, input + hidden);
        LstmParameters p = s.ToParameters();
        double[] x = PyTorchEquations.ToDouble(Generators.Fill(batch * input, Dist.Unit, 1));
        double[] h = PyTorchEquations.ToDouble(Generators.Fill(batch * hidden, Dist.Unit, 2));
        double[] c = PyTorchEquations.ToDouble(Generators.Fill(batch * hidden, Dist.Wide, 3));
        (double[] seedH, double[] seedC) = s.Forward(batch, x, h, c);

        double[] refH = new double[batch * hidden], refC = new double[batch * hidden];
        new ReferenceLstmCell(p).Forward(x, h, c, refH, refC);
        for (int k = 0; k < refH.Length; k++)
        {
            Assert.True(Math.Abs(refH[k] - seedH[k]) <= Tolerances.DoubleReferences, $"ReferenceLstmCell h[{k}] = {refH[k]}, seed equations {seedH[k]}");
            Assert.True(Math.Abs(refC[k] - seedC[k]) <= Tolerances.DoubleReferences * (1 + Math.Abs(seedC[k])), $"ReferenceLstmCell c[{k}] = {refC[k]}, seed equations {seedC[k]}");
        }

        // The fast cell from the same parameters (weights of size ~1, not CreateRandom's 1/√H: see SeedScaleFactor).
        var cell = new LstmCell(p);
        float[] hf = new float[batch * hidden], cf = new float[batch * hidden];
        cell.Forward(ToFloat(x), ToFloat(h), ToFloat(c), hf, cf);
        double scale = Tolerances.SeedScaleFactor(input, hidden);
        for (int k = 0; k < hf.Length; k++)
        {
            Check.Near(seedH[k], hf[k], Tolerances.CellH * scale, "LstmCell h vs seed", k);
            Check.Near(seedC[k], cf[k], Tolerances.CellC(seedC[k]) * scale, "LstmCell c vs seed", k);
        }
    }

    /// <summary>
    /// Gate order: the seed's W_f only changes the forget gate, W_i the input gate, W_C the candidate, W_o the
    /// output gate. Each gate is driven to a known saturated value by its bias alone, so a swap shows.
    /// </summary>
    [Fact]
    public void FromSeed_GateOrderMapsToIfgo()
    {
        const int I = 2, H = 3;
        float[] zeroW = new float[(H + I) * H];
        float[] bF = [30, 30, 30], bI = [-30, -30, -30], bC = [30, 30, 30], bO = [30, 30, 30];

        // f = 1, i = 0: c = cPrev; o = 1: h = tanh(c).
        LstmParameters p = LstmParameters.FromSeed(I, H, zeroW, zeroW, zeroW, zeroW, bF, bI, bC, bO);
        Assert.Equal(bI, p.Bias[..H].ToArray());
        Assert.Equal(bF, p.Bias.Slice(H, H).ToArray());
        Assert.Equal(bC, p.Bias.Slice(2 * H, H).ToArray());
        Assert.Equal(bO, p.Bias.Slice(3 * H, H).ToArray());
        float[] cPrev = [0.5f, -0.25f, 2f];
        (float[] h, float[] c) = Step(p, new float[I], new float[H], cPrev);
        for (int j = 0; j < H; j++)
        {
            Assert.Equal(cPrev[j], c[j], Tolerances.Saturated);
            Assert.Equal(MathF.Tanh(cPrev[j]), h[j], Tolerances.Saturated);
        }

        // f = 0, i = 1, C̃ = 1, o = 0: c = 1, h = 0. Swapping any two of f, i, C, o would change this.
        p = LstmParameters.FromSeed(I, H, zeroW, zeroW, zeroW, zeroW, bF: [-30, -30, -30], bI: [30, 30, 30], bC: [30, 30, 30], bO: [-30, -30, -30]);
        (h, c) = Step(p, new float[I], new float[H], cPrev);
        for (int j = 0; j < H; j++)
        {
            Assert.Equal(1f, c[j], Tolerances.Saturated);
            Assert.Equal(0f, h[j], Tolerances.Saturated);
        }

        // The weights follow their gate too: only W_o on x[1] (row H + 1), only for unit 2: o₂ = σ(40·x₁).
        float[] wO = new float[(H + I) * H];
        wO[((H + 1) * H) + 2] = 40f;
        p = LstmParameters.FromSeed(I, H, zeroW, zeroW, zeroW, wO, bF: [30, 30, 30], bI: [-30, -30, -30], bC: [0, 0, 0], bO: [-30, -30, 0]);
        Assert.Equal(40f, p.WeightIh[(((3 * H) + 2) * I) + 1]);
        Assert.Equal(1, p.WeightIh.ToArray().Count(v => v != 0));
        (h, _) = Step(p, [0f, 1f], new float[H], cPrev);
        Assert.Equal(MathF.Tanh(cPrev[2]), h[2], Tolerances.Saturated);
        Assert.Equal(0f, h[0], Tolerances.Saturated);
    }

    [Fact]
    public void FromSeed_ThrowsOnWrongLengths()
    {
        const int I = 3, H = 5;
        float[] w = new float[(H + I) * H], b = new float[H], shortW = new float[((H + I) * H) - 1], longB = new float[H + 1];
        Check.Throws<ArgumentException>("wF", () => LstmParameters.FromSeed(I, H, shortW, w, w, w, b, b, b, b));
        Check.Throws<ArgumentException>("wI", () => LstmParameters.FromSeed(I, H, w, shortW, w, w, b, b, b, b));
        Check.Throws<ArgumentException>("wC", () => LstmParameters.FromSeed(I, H, w, w, None, w, b, b, b, b));
        Check.Throws<ArgumentException>("wO", () => LstmParameters.FromSeed(I, H, w, w, w, new float[4 * H * (I + H)], b, b, b, b));
        Check.Throws<ArgumentException>("bF", () => LstmParameters.FromSeed(I, H, w, w, w, w, longB, b, b, b));
        Check.Throws<ArgumentException>("bI", () => LstmParameters.FromSeed(I, H, w, w, w, w, b, None, b, b));
        Check.Throws<ArgumentException>("bC", () => LstmParameters.FromSeed(I, H, w, w, w, w, b, b, new float[4 * H], b));
        Check.Throws<ArgumentException>("bO", () => LstmParameters.FromSeed(I, H, w, w, w, w, b, b, b, new float[H - 1]));
    }

    [Theory]
    [MemberData(nameof(NonFinite))]
    public void FromSeed_ThrowsOnNonFinite(float bad)
    {
        const int I = 3, H = 5;
        string[] names = ["wF", "wI", "wC", "wO", "bF", "bI", "bC", "bO"];
        for (int which = 0; which < 8; which++)
        {
            float[][] a = new float[8][];
            for (int k = 0; k < 8; k++)
            {
                a[k] = Generators.Fill(k < 4 ? (H + I) * H : H, Dist.Unit, k);
            }

            a[which][which % a[which].Length] = bad;
            Check.Throws<ArgumentException>(names[which], () => LstmParameters.FromSeed(I, H, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));
        }
    }


    /// <summary>Weights in the numpy seed's layout and its forward equations.</summary>
    private sealed class SeedWeights
    {
        private SeedWeights(int input, int hidden, float[][] w, float[][] b)
        {
            Input = input;
            Hidden = hidden;
            (WF, WI, WC, WO) = (w[0], w[1], w[2], w[3]);
            (BF, BI, BC, BO) = (b[0], b[1], b[2], b[3]);
        }

        public int Input { get; }

        public int Hidden { get; }

        public float[] WF { get; }

        public float[] WI { get; }

        public float[] WC { get; }

        public float[] WO { get; }

        public float[] BF { get; }

        public float[] BI { get; }

        public float[] BC { get; }

        public float[] BO { get; }

        /// <summary>Four different (H + I, H) matrices (randn-like scale) and four different biases.</summary>
        public static SeedWeights Create(int input, int hidden, int seed)
        {
            float[][] w = new float[4][];
            float[][] b = new float[4][];
            for (int g = 0; g < 4; g++)
            {
                w[g] = Generators.Fill((hidden + input) * hidden, Dist.Unit, seed + g);
                b[g] = Generators.Fill(hidden, Dist.Unit, seed + 10 + g);
            }

            return new SeedWeights(input, hidden, w, b);
        }

        public LstmParameters ToParameters() => LstmParameters.FromSeed(Input, Hidden, WF, WI, WC, WO, BF, BI, BC, BO);

        /// <summary>The seed's forward, row by row: concat_input = (h_prev, x); gate = concat·W_g + b_g.</summary>
        public (double[] H, double[] C) Forward(int batch, double[] x, double[] h, double[] c)
        {
            int hs = Hidden;
            double[] hOut = new double[batch * hs], cOut = new double[batch * hs];
            for (int r = 0; r < batch; r++)
            {
                double[] concat = [.. h.AsSpan(r * hs, hs), .. x.AsSpan(r * Input, Input)];
                for (int j = 0; j < hs; j++)
                {
                    double Dot(float[] w, float[] bias)
                    {
                        double sum = bias[j];
                        for (int k = 0; k < concat.Length; k++)
                        {
                            sum += concat[k] * w[(k * hs) + j];
                        }

                        return sum;
                    }

                    double f = PyTorchEquations.Sigmoid(Dot(WF, BF));
                    double i = PyTorchEquations.Sigmoid(Dot(WI, BI));
                    double cTilde = Math.Tanh(Dot(WC, BC));
                    double cNew = (f * c[(r * hs) + j]) + (i * cTilde);
                    double o = PyTorchEquations.Sigmoid(Dot(WO, BO));
                    cOut[(r * hs) + j] = cNew;
                    hOut[(r * hs) + j] = o * Math.Tanh(cNew);
                }
            }

            return (hOut, cOut);
        }
    }
}
