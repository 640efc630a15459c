using FsCheck.Xunit;
using LstmKernels.Training;
using Xunit.Abstractions;

namespace LstmKernels.Tests;

/// <summary>
/// The second oracle for LstmTrainer: central finite differences of an independent double-precision forward of the
/// whole stack (written here from PyTorch's equations and packed-sequence semantics), for every tensor, x, h0 and c0,
/// over random shapes (FsCheck: layers, directions (reverse-only too), projections, batch-first, per-row lengths including 0, bias modes)
/// and fixed edge shapes (H = 1, T = 0, T = 1, H around a vector width, reverse-only with lengths and projections).
/// </summary>
public sealed class LstmTrainerGradientCheckTests(ITestOutputHelper output)
{
    /// <summary>
    /// Float32 BPTT against double finite differences (ε = 1e-5, truncation and rounding about 1e-10): every element
    /// within 3e-5·max|fd tensor| + 1e-6. The float errors grow with T and the layers (measured below 2e-6 relative at
    /// T ≤ 6, two layers).
    /// </summary>
    private const double Relative = 3e-5;
    private const double Absolute = 1e-6;
    private const double Epsilon = 1e-5;

    [Property(MaxTest = 25)]
    public void LstmTrainer_MatchesFiniteDifferences(int seed) => Run(Case.Random(seed));

    [Theory]
    [InlineData(1, 1, 1, 1, 0, 1, 1, false, LstmBiasMode.Separate)]
    [InlineData(2, 3, 2, 2, 2, 2, 0, true, LstmBiasMode.Summed)]
    [InlineData(3, 17, 1, 2, 0, 2, 3, false, LstmBiasMode.Separate)]
    [InlineData(2, 16, 1, 1, 15, 1, 2, true, LstmBiasMode.None)]
    [InlineData(3, 5, 2, 1, 3, 3, 4, true, LstmBiasMode.Separate, true)]
    public void LstmTrainer_MatchesFiniteDifferences_EdgeShapes(int input, int hidden, int layers, int directions, int projection, int batch, int steps, bool batchFirst, LstmBiasMode mode, bool reverse = false)
    {
        int[] lengths = batch > 1 ? [.. Enumerable.Range(0, batch).Select(b => Math.Max(0, steps - b))] : [];
        Run(new Case(input, hidden, layers, directions, projection, batch, steps, batchFirst, mode, lengths, 100 + hidden, reverse));
    }

    private void Run(Case c)
    {
        LstmStackParameters p = LstmTrainerTests.RandomStack(c.Input, c.Hidden, c.Layers, c.Directions, c.Projection, c.Mode, c.Seed);
        int s = p.StateSize, cells = c.Layers * c.Directions;
        float[] x = Generators.Fill(c.Steps * c.Batch * c.Input, Dist.Unit, c.Seed + 1);
        float[] h0 = Generators.Fill(cells * c.Batch * s, Dist.Unit, c.Seed + 2), c0 = Generators.Fill(cells * c.Batch * c.Hidden, Dist.Unit, c.Seed + 3);
        float[] dY = Generators.Fill(c.Steps * c.Batch * c.Directions * s, Dist.Unit, c.Seed + 4);
        float[] dhT = Generators.Fill(h0.Length, Dist.Unit, c.Seed + 5), dcT = Generators.Fill(c0.Length, Dist.Unit, c.Seed + 6);
        var options = new LstmOptions
        {
            Direction = c.Directions == 2 ? LstmDirection.Bidirectional : c.Reverse ? LstmDirection.Reverse : LstmDirection.Forward,
            BatchFirst = c.BatchFirst,
            Bias = c.Mode != LstmBiasMode.None,
        };
        var trainer = new LstmTrainer(p, options, c.Batch, Math.Max(1, c.Steps));
        trainer.Forward(x, h0, c0, default, default, default, c.Lengths);
        LstmStackParameters gradient = p.CreateGradient();
        float[] dX = new float[x.Length], dh0 = new float[h0.Length], dc0 = new float[c0.Length];
        trainer.Backward(dY, dhT, dcT, gradient, dX, dh0, dc0);

        var model = new DoubleStack(c, p);
        double[] xd = Doubles(x), h0d = Doubles(h0), c0d = Doubles(c0), dYd = Doubles(dY), dhTd = Doubles(dhT), dcTd = Doubles(dcT);
        double Loss() => model.Loss(xd, h0d, c0d, dYd, dhTd, dcTd);
        double worst = 0;
        foreach (string name in p.Names)
        {
            worst = Math.Max(worst, LstmTrainerTests.AssertClose(FiniteDifferences(model.Tensors[name], Loss), gradient.Tensor(name), name, Relative, Absolute));
        }

        worst = Math.Max(worst, LstmTrainerTests.AssertClose(FiniteDifferences(xd, Loss), dX, "dX", Relative, Absolute));
        worst = Math.Max(worst, LstmTrainerTests.AssertClose(FiniteDifferences(h0d, Loss), dh0, "dh0", Relative, Absolute));
        worst = Math.Max(worst, LstmTrainerTests.AssertClose(FiniteDifferences(c0d, Loss), dc0, "dc0", Relative, Absolute));
        output.WriteLine($"{c}: worst error / max|fd| = {worst:E2}");
    }

    private static double[] FiniteDifferences(double[] values, Func<double> loss)
    {
        double[] result = new double[values.Length];
        for (int k = 0; k < values.Length; k++)
        {
            double v = values[k];
            values[k] = v + Epsilon;
            double plus = loss();
            values[k] = v - Epsilon;
            double minus = loss();
            values[k] = v;
            result[k] = (plus - minus) / (2 * Epsilon);
        }

        return result;
    }

    private static double[] Doubles(float[] values) => Array.ConvertAll(values, v => (double)v);

    internal sealed record Case(int Input, int Hidden, int Layers, int Directions, int Projection, int Batch, int Steps, bool BatchFirst, LstmBiasMode Mode, int[] Lengths, int Seed, bool Reverse)
    {
        public static Case Random(int seed)
        {
#pragma warning disable CA5394 // Test shapes, not security.
            var random = new Random(seed);
            int hidden = random.Next(1, 7);
            int batch = random.Next(1, 4);
            int steps = random.Next(0, 6);
            int[] lengths = random.Next(2) == 0 ? [] : [.. Enumerable.Range(0, batch).Select(_ => random.Next(0, steps + 1))];
            int directions = random.Next(1, 3);
            return new Case(
                random.Next(1, 5),
                hidden,
                random.Next(1, 3),
                directions,
                hidden > 1 && random.Next(2) == 0 ? random.Next(1, hidden) : 0,
                batch,
                steps,
                random.Next(2) == 0,
                (LstmBiasMode)random.Next(3),
                lengths,
                seed,
                Reverse: directions == 1 && random.Next(2) == 0);
#pragma warning restore CA5394
        }

        public override string ToString() =>
            $"I={Input} H={Hidden} L={Layers} D={Directions}{(Reverse ? " reverse" : "")} P={Projection} B={Batch} T={Steps} batchFirst={BatchFirst} {Mode} lengths=[{string.Join(",", Lengths)}]";
    }

    /// <summary>
    /// nn.LSTM in double, row by row from PyTorch's equations: each row b runs its own L_b steps (reverse, and ONNX's
    /// reverse-only direction: from L_b − 1 down), outputs past L_b are zero, the final state is the state after L_b steps. The loss is
    /// <c>Σ dY·y + Σ dhT·hT + Σ dcT·cT</c>, so its gradients are what LstmTrainer.Backward computes.
    /// </summary>
    private sealed class DoubleStack
    {
        private readonly Case c;
        private readonly string[] names;

        public DoubleStack(Case c, LstmStackParameters p)
        {
            this.c = c;
            names = [.. p.Names];
            Tensors = p.Names.ToDictionary(n => n, n => Doubles(p.Tensor(n).ToArray()));
        }

        public Dictionary<string, double[]> Tensors { get; }

        public double Loss(double[] x, double[] h0, double[] c0, double[] dY, double[] dhT, double[] dcT)
        {
            int hs = c.Hidden, s = c.Projection > 0 ? c.Projection : hs, dirs = c.Directions, batch = c.Batch, steps = c.Steps;
            double[] input = new double[steps * batch * c.Input];
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    int from = c.BatchFirst ? ((b * steps) + t) * c.Input : ((t * batch) + b) * c.Input;
                    Array.Copy(x, from, input, ((t * batch) + b) * c.Input, c.Input);
                }
            }

            int inSize = c.Input;
            double loss = 0;
            double[] z = new double[4 * hs], m = new double[hs];
            for (int layer = 0; layer < c.Layers; layer++)
            {
                double[] output = new double[steps * batch * dirs * s];
                for (int d = 0; d < dirs; d++)
                {
                    int k = (layer * dirs) + d;
                    string suffix = $"_l{layer}{(d == 1 ? "_reverse" : "")}";
                    double[] wIh = Tensors["weight_ih" + suffix], wHh = Tensors["weight_hh" + suffix];
                    double[]? bIh = names.Contains("bias_ih" + suffix) ? Tensors["bias_ih" + suffix] : null;
                    double[]? bHh = names.Contains("bias_hh" + suffix) ? Tensors["bias_hh" + suffix] : null;
                    double[]? wHr = c.Projection > 0 ? Tensors["weight_hr" + suffix] : null;
                    for (int b = 0; b < batch; b++)
                    {
                        int length = c.Lengths.Length == 0 ? steps : c.Lengths[b];
                        double[] h = h0.AsSpan(((k * batch) + b) * s, s).ToArray();
                        double[] cell = c0.AsSpan(((k * batch) + b) * hs, hs).ToArray();
                        for (int step = 0; step < length; step++)
                        {
                            int t = d == 1 || c.Reverse ? length - 1 - step : step;
                            int row = (t * batch) + b;
                            for (int r = 0; r < 4 * hs; r++)
                            {
                                double sum = (bIh?[r] ?? 0) + (bHh?[r] ?? 0);
                                for (int i = 0; i < inSize; i++)
                                {
                                    sum += wIh[(r * inSize) + i] * input[(row * inSize) + i];
                                }

                                for (int j = 0; j < s; j++)
                                {
                                    sum += wHh[(r * s) + j] * h[j];
                                }

                                z[r] = sum;
                            }

                            for (int j = 0; j < hs; j++)
                            {
                                double ig = Sigmoid(z[j]), fg = Sigmoid(z[hs + j]), gg = Math.Tanh(z[(2 * hs) + j]), og = Sigmoid(z[(3 * hs) + j]);
                                cell[j] = (fg * cell[j]) + (ig * gg);
                                m[j] = og * Math.Tanh(cell[j]);
                            }

                            for (int q = 0; q < s; q++)
                            {
                                double v = wHr is null ? m[q] : 0;
                                for (int j = 0; wHr is not null && j < hs; j++)
                                {
                                    v += wHr[(q * hs) + j] * m[j];
                                }

                                h[q] = v;
                                output[(row * dirs * s) + (d * s) + q] = v;
                            }
                        }

                        for (int q = 0; q < s; q++)
                        {
                            loss += dhT[(((k * batch) + b) * s) + q] * h[q];
                        }

                        for (int j = 0; j < hs; j++)
                        {
                            loss += dcT[(((k * batch) + b) * hs) + j] * cell[j];
                        }
                    }
                }

                input = output;
                inSize = dirs * s;
            }

            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    int at = c.BatchFirst ? ((b * steps) + t) * inSize : ((t * batch) + b) * inSize;
                    for (int q = 0; q < inSize; q++)
                    {
                        loss += dY[at + q] * input[(((t * batch) + b) * inSize) + q];
                    }
                }
            }

            return loss;
        }

        private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
    }
}
