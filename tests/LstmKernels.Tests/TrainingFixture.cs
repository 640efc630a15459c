using System.Text.Json;
using LstmKernels.Training;

namespace LstmKernels.Tests;

/// <summary>
/// One JSON fixture of Fixtures/training/, written by make_fixtures.py from PyTorch 1.13's autograd in float64 (from
/// float32-representable starting values): the model's shape, its named parameters, the data, and the expected
/// outputs, gradients or trajectory.
/// </summary>
internal sealed class TrainingFixture
{
    private readonly JsonElement root;

    private TrainingFixture(JsonElement root) => this.root = root;

    public int InputSize => Int("input_size");

    public int HiddenSize => Int("hidden_size");

    public int ProjectionSize => Int("proj_size");

    public int Layers => Int("num_layers");

    public int Directions => root.GetProperty("bidirectional").GetBoolean() ? 2 : 1;

    public bool BatchFirst => root.GetProperty("batch_first").GetBoolean();

    public bool HasBias => root.GetProperty("bias").GetBoolean();

    public int Batch => Int("batch");

    public int Steps => Int("steps");

    public int[] Lengths => [.. root.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32())];

    public string[] Names => [.. root.GetProperty("names").EnumerateArray().Select(e => e.GetString()!)];

    public LstmOptions Options => new()
    {
        Direction = Directions == 2 ? LstmDirection.Bidirectional : LstmDirection.Forward,
        BatchFirst = BatchFirst,
        Bias = HasBias,
    };

    public static TrainingFixture Load(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "training", file);
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        return new TrainingFixture(document.RootElement.Clone());
    }

    public int Int(string name) => root.GetProperty(name).GetInt32();

    public string Text(string name) => root.GetProperty(name).GetString()!;

    public double Double(string name) => root.GetProperty(name).GetDouble();

    public double Setting(string name) => root.GetProperty("settings").GetProperty(name).GetDouble();

    public double[] Doubles(string name) => [.. root.GetProperty(name).EnumerateArray().Select(e => e.GetDouble())];

    public float[] Floats(string name) => Array.ConvertAll(Doubles(name), v => (float)v);

    /// <summary>A named tensor of the object <paramref name="group"/> (parameters, gradients, final).</summary>
    public double[] Tensor(string group, string name) =>
        [.. root.GetProperty(group).GetProperty(name).EnumerateArray().Select(e => e.GetDouble())];

    /// <summary>
    /// The fixture's starting parameters in <paramref name="mode"/>: Separate copies every tensor; Summed puts
    /// bias_ih + bias_hh into bias_ih (rounded to float once); None needs a model without biases.
    /// </summary>
    public LstmStackParameters CreateParameters(LstmBiasMode mode)
    {
        var p = new LstmStackParameters(InputSize, HiddenSize, Layers, Directions, ProjectionSize, mode);
        foreach (string name in Names)
        {
            double[] values = Tensor("parameters", name);
            if (name.StartsWith("bias_hh", StringComparison.Ordinal))
            {
                if (mode == LstmBiasMode.Separate)
                {
                    Copy(values, p.Tensor(name));
                }

                continue;
            }

            if (name.StartsWith("bias_ih", StringComparison.Ordinal) && mode == LstmBiasMode.Summed)
            {
                double[] other = Tensor("parameters", "bias_hh" + name["bias_ih".Length..]);
                Copy([.. values.Select((v, k) => v + other[k])], p.Tensor(name));
                continue;
            }

            Copy(values, p.Tensor(name));
        }

        return p;
    }

    private static void Copy(double[] values, Span<float> destination)
    {
        Assert.Equal(values.Length, destination.Length);
        for (int k = 0; k < values.Length; k++)
        {
            destination[k] = (float)values[k];
        }
    }
}
