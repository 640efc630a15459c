using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// ReferenceLstmCell.Backward / BackwardSequence (ReferenceLstmCell.Backward.cs) against central finite differences
/// in double: every weight, every bias, every input, h0 and c0, on small sizes and several sequence lengths.
/// The loss is linear in every h_t and in (h_T, c_T), L = Σ_t ⟨a_t, h_t⟩ + ⟨a_h, h_T⟩ + ⟨a_c, c_T⟩, so its
/// upstream gradients are the fixed a's.
/// </summary>
public sealed class GradientCheckTests
{
    private const double Epsilon = 1e-5;

    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 1, 1, 1, 1 },
        { 2, 3, 1, 1 },
        { 3, 2, 2, 3 },
        { 1, 4, 1, 6 },
        { 4, 5, 2, 2 },
        { 2, 2, 3, 8 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ReferenceBackwardSequence_MatchesFiniteDifferences(int input, int hidden, int batch, int steps)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, (17 * input) + hidden);
        var model = new DoubleLstm(p, batch, steps)
        {
            X = Doubles(Generators.Fill(steps * batch * input, Dist.Unit, 1)),
            H0 = Doubles(Generators.Fill(batch * hidden, Dist.Unit, 2)),
            C0 = Doubles(Generators.Fill(batch * hidden, Dist.Wide, 3)),
            AOut = Doubles(Generators.Fill(steps * batch * hidden, Dist.Unit, 4)),
            AH = Doubles(Generators.Fill(batch * hidden, Dist.Unit, 5)),
            AC = Doubles(Generators.Fill(batch * hidden, Dist.Unit, 6)),
        };

        var reference = new ReferenceLstmCell(p);
        var gradient = new ReferenceLstmGradients(input, hidden);
        double[] dx = new double[model.X.Length], dh0 = new double[model.H0.Length], dc0 = new double[model.C0.Length];
        reference.BackwardSequence(model.X, model.H0, model.C0, model.AOut, model.AH, model.AC, gradient, dx, dh0, dc0);

        CheckAll(model, model.WIh, gradient.WeightIh.ToArray(), "WeightIh");
        CheckAll(model, model.WHh, gradient.WeightHh.ToArray(), "WeightHh");
        CheckAll(model, model.Bias, gradient.Bias.ToArray(), "Bias");
        CheckAll(model, model.X, dx, "x");
        CheckAll(model, model.H0, dh0, "h0");
        CheckAll(model, model.C0, dc0, "c0");
    }

    /// <summary>Backward does not change the weights; ApplySgd is the seed's w −= lr·grad, as its own step.</summary>
    [Fact]
    public void ReferenceBackward_ThenApplySgd()
    {
        const int I = 3, H = 4, B = 2;
        LstmParameters p = LstmParameters.CreateRandom(I, H, 9);
        var cell = new ReferenceLstmCell(p);
        var gradient = new ReferenceLstmGradients(I, H);
        double[] x = Doubles(Generators.Fill(B * I, Dist.Unit, 1)), h = Doubles(Generators.Fill(B * H, Dist.Unit, 2));
        double[] c = Doubles(Generators.Fill(B * H, Dist.Unit, 3)), dh = Doubles(Generators.Fill(B * H, Dist.Unit, 4));
        double[] dc = Doubles(Generators.Fill(B * H, Dist.Unit, 5));
        double[] dx = new double[B * I], dhPrev = new double[B * H], dcPrev = new double[B * H];
        cell.Backward(x, h, c, dh, dc, gradient, dx, dhPrev, dcPrev);
        LstmParameters unchanged = cell.ToParameters();
        Check.BitwiseEqual(p.WeightIh, unchanged.WeightIh, "WeightIh after Backward");
        Check.BitwiseEqual(p.WeightHh, unchanged.WeightHh, "WeightHh after Backward");
        Check.BitwiseEqual(p.Bias, unchanged.Bias, "Bias after Backward");

        // Accumulates: a second call doubles the gradient.
        double[] once = gradient.WeightHh.ToArray();
        cell.Backward(x, h, c, dh, dc, gradient, dx, dhPrev, dcPrev);
        for (int k = 0; k < once.Length; k++)
        {
            Assert.Equal(2 * once[k], gradient.WeightHh[k], 12);
        }

        cell.ApplySgd(gradient, 0.5);
        LstmParameters updated = cell.ToParameters();
        for (int k = 0; k < p.WeightIh.Length; k++)
        {
            Assert.Equal((float)(p.WeightIh[k] - (0.5 * gradient.WeightIh[k])), updated.WeightIh[k]);
        }

        for (int k = 0; k < p.Bias.Length; k++)
        {
            Assert.Equal((float)(p.Bias[k] - (0.5 * gradient.Bias[k])), updated.Bias[k]);
        }
    }

    [Fact]
    public void ReferenceBackward_Throws()
    {
        var cell = new ReferenceLstmCell(LstmParameters.CreateRandom(2, 3, 1));
        var g = new ReferenceLstmGradients(2, 3);
        double[] x = new double[2], s = new double[3];
        Check.Throws<ArgumentException>("x", () => cell.Backward(new double[3], s, s, s, s, g, x, s, s));
        Check.Throws<ArgumentException>("dc", () => cell.Backward(x, s, s, s, new double[4], g, x, s, s));
        Check.Throws<ArgumentException>("dx", () => cell.Backward(x, s, s, s, s, g, new double[1], s, s));
        Check.Throws<ArgumentException>("gradient", () => cell.Backward(x, s, s, s, s, new ReferenceLstmGradients(3, 3), x, s, s));
        Assert.Throws<ArgumentNullException>(() => cell.Backward(x, s, s, s, s, null!, x, s, s));
        Check.Throws<ArgumentException>("dY", () => cell.BackwardSequence(new double[4], s, s, new double[5], default, default, g, default, s, s));
    }

    private static void CheckAll(DoubleLstm model, double[] values, double[] analytic, string what)
    {
        for (int k = 0; k < values.Length; k++)
        {
            double saved = values[k];
            values[k] = saved + Epsilon;
            double up = model.Loss();
            values[k] = saved - Epsilon;
            double down = model.Loss();
            values[k] = saved;
            double fd = (up - down) / (2 * Epsilon);
            double error = Math.Abs(analytic[k] - fd);
            Assert.True(
                error <= Tolerances.FiniteDifference(fd),
                $"{what}[{k}]: backward {analytic[k]:R}, finite difference {fd:R}, |error| = {error:E3}");
        }
    }

    private static double[] Doubles(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>An LSTM over a sequence in double on its own arrays (the PyTorch equations), so that any value can be nudged by ε.</summary>
    private sealed class DoubleLstm
    {
        private readonly int input, hidden, batch, steps;

        public DoubleLstm(LstmParameters p, int batch, int steps)
        {
            input = p.InputSize;
            hidden = p.HiddenSize;
            this.batch = batch;
            this.steps = steps;
            WIh = Doubles(p.WeightIh.ToArray());
            WHh = Doubles(p.WeightHh.ToArray());
            Bias = Doubles(p.Bias.ToArray());
        }

        public double[] WIh { get; }

        public double[] WHh { get; }

        public double[] Bias { get; }

        public required double[] X { get; init; }

        public required double[] H0 { get; init; }

        public required double[] C0 { get; init; }

        public required double[] AOut { get; init; }

        public required double[] AH { get; init; }

        public required double[] AC { get; init; }

        public double Loss()
        {
            double[] h = (double[])H0.Clone(), c = (double[])C0.Clone();
            double[] hn = new double[h.Length], cn = new double[c.Length];
            double loss = 0;
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    for (int j = 0; j < hidden; j++)
                    {
                        double i = Sigmoid(Z(0, j, t, b, h)), f = Sigmoid(Z(1, j, t, b, h));
                        double g = Math.Tanh(Z(2, j, t, b, h)), o = Sigmoid(Z(3, j, t, b, h));
                        int s = (b * hidden) + j;
                        cn[s] = (f * c[s]) + (i * g);
                        hn[s] = o * Math.Tanh(cn[s]);
                    }
                }

                (h, hn) = (hn, h);
                (c, cn) = (cn, c);
                for (int s = 0; s < h.Length; s++)
                {
                    loss += AOut[(t * h.Length) + s] * h[s];
                }
            }

            for (int s = 0; s < h.Length; s++)
            {
                loss += (AH[s] * h[s]) + (AC[s] * c[s]);
            }

            return loss;
        }

        private double Z(int gate, int j, int t, int b, double[] h)
        {
            int row = (gate * hidden) + j;
            double z = Bias[row];
            for (int k = 0; k < input; k++)
            {
                z += WIh[(row * input) + k] * X[(((t * batch) + b) * input) + k];
            }

            for (int k = 0; k < hidden; k++)
            {
                z += WHh[(row * hidden) + k] * h[(b * hidden) + k];
            }

            return z;
        }

        private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
    }
}
