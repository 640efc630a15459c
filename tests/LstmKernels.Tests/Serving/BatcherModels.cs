using FsCheck;
using FsCheck.Fluent;

namespace LstmKernels.Tests;

/// <summary>
/// A model for the batcher's properties: layers, sizes, projection, peepholes, weight precision and step threads.
/// Projections and peepholes take the unfused route, which runs float32 on one thread only.
/// </summary>
public sealed record BatcherModel(int Layers, int Input, int Hidden, int Projection, bool Peepholes, WeightPrecision Precision, int Threads, int Seed)
{
    private static readonly int[] Sizes = [1, 3, 8, 15, 16, 17, 33, 64, 65];

    /// <summary>Every model kind, sizes around the vector widths and the 16-unit panel.</summary>
    public static Gen<BatcherModel> Gen =>
        from layers in FsCheck.Fluent.Gen.Choose(1, 2)
        from input in FsCheck.Fluent.Gen.Elements(Sizes)
        from hidden in FsCheck.Fluent.Gen.Elements(Sizes)
        from kind in FsCheck.Fluent.Gen.Choose(0, 5)
        from seed in FsCheck.Fluent.Gen.Choose(0, 10_000)
        select kind switch
        {
            0 => new BatcherModel(layers, input, hidden, 0, false, WeightPrecision.Float32, 1, seed),
            1 => new BatcherModel(layers, input, hidden, 0, false, WeightPrecision.BFloat16, 1, seed),
            2 => new BatcherModel(layers, input, hidden, 0, false, WeightPrecision.Int8, 1, seed),
            3 => new BatcherModel(layers, input, hidden, 0, false, WeightPrecision.Float32, 2, seed),
            4 when hidden > 1 => new BatcherModel(layers, input, hidden, hidden / 2, false, WeightPrecision.Float32, 1, seed),
            5 => new BatcherModel(layers, input, hidden, 0, true, WeightPrecision.Float32, 1, seed),
            _ => new BatcherModel(layers, input, hidden, 0, false, WeightPrecision.Float32, 1, seed),
        };

    public Lstm Build()
    {
        var options = new LstmOptions { Precision = Precision, StepThreads = Threads };
        if (Projection > 0)
        {
            var projected = new ProjectedLstmParameters[Layers];
            for (int l = 0; l < Layers; l++)
            {
                projected[l] = ProjectedLstmParameters.CreateRandom(l == 0 ? Input : Projection, Hidden, Projection, Seed + l);
            }

            return Lstm.CreateProjected(projected, options);
        }

        var cells = new LstmParameters[Layers];
        for (int l = 0; l < Layers; l++)
        {
            cells[l] = LstmParameters.CreateRandom(l == 0 ? Input : Hidden, Hidden, Seed + l);
            if (Peepholes)
            {
                cells[l] = Peep.With(cells[l], Generators.Fill(3 * Hidden, Dist.Unit, Seed + 100 + l));
            }
        }

        return Lstm.Create(cells, options);
    }
}
