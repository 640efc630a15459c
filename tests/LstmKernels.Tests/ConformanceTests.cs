// Tensor names of the ONNX operator are data here, not member names.
#pragma warning disable CA1507
using System.Globalization;
using System.Text.Json;
using LstmKernels.Interop;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// Every vector of Conformance/ (copied from ../shared/conformance: ONNX backend node tests, ONNX Runtime's LSTM kernel
/// goldens, PyTorch's C++ API golden) through <see cref="Lstm"/> (and through <see cref="ReferenceLstm"/>, the twin),
/// within the tolerance the README states for each set.
/// </summary>
public sealed class ConformanceTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Conformance");

    public static TheoryData<string> OnnxLayoutFiles
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string dir in (string[])["onnx_node", "onnxruntime", "pytorch"])
            {
                foreach (string file in Directory.GetFiles(Path.Combine(Folder, dir), "*.json").Order(StringComparer.Ordinal))
                {
                    if (!Path.GetFileName(file).StartsWith("pytorch_cpp_api", StringComparison.Ordinal))
                    {
                        data.Add(Path.Combine(dir, Path.GetFileName(file)));
                    }
                }
            }

            return data;
        }
    }

    [Fact]
    public void Conformance_AllFilesArePresent()
    {
        // 5 ONNX node tests + 21 ONNX Runtime goldens + 1 derived PyTorch case in ONNX layout, and the PyTorch original.
        Assert.Equal(27, OnnxLayoutFiles.Count);
        Assert.True(File.Exists(Path.Combine(Folder, "pytorch", "pytorch_cpp_api_CheckOutputValuesMatchPyTorch.json")));
    }

    /// <summary>The tolerance of a file: 1e-5, 1e-4 for the case given to 5 digits, 1e-3 for the PyTorch golden (4 decimals).</summary>
    internal static double ToleranceOf(string file) =>
        file.Contains("batch3", StringComparison.Ordinal) ? 1e-4 : file.Contains("pytorch", StringComparison.Ordinal) ? 1e-3 : 1e-5;

    [Theory]
    [MemberData(nameof(OnnxLayoutFiles))]
    public void Conformance_OnnxLayout(string file)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, file)));
        OnnxCase c = OnnxCase.FromJson(doc.RootElement);
        double atol = ToleranceOf(file);
        OnnxOutputs ours = c.Run(useReference: false);
        OnnxOutputs twin = c.Run(useReference: true);
        int compared = 0;
        foreach ((string name, float[] expected) in c.Expected)
        {
            float[] got = ours.Get(name);
            float[] reference = twin.Get(name);
            Assert.Equal(expected.Length, got.Length);
            for (int k = 0; k < expected.Length; k++)
            {
                Check.Near(expected[k], got[k], atol, $"{file} {name} (Lstm)", k);
                Check.Near(expected[k], reference[k], atol, $"{file} {name} (ReferenceLstm)", k);
                compared++;
            }
        }

        Assert.True(compared > 0, "no output compared");
    }

    /// <summary>The PyTorch golden in PyTorch's own layout, through the state_dict importer (and a safetensors round trip).</summary>
    [Fact]
    public void Conformance_PyTorchGolden_ThroughImporter()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "pytorch", "pytorch_cpp_api_CheckOutputValuesMatchPyTorch.json")));
        JsonElement inputs = doc.RootElement.GetProperty("inputs");
        var tensors = new Dictionary<string, FloatTensor>();
        foreach (JsonProperty p in inputs.EnumerateObject())
        {
            if (p.Name != "input")
            {
                tensors[p.Name] = new FloatTensor(p.Name, Shape(p.Value), Floats(p.Value));
            }
        }

        // Through a safetensors file too, as a user would load it.
        IReadOnlyDictionary<string, FloatTensor> loaded = SafetensorsFile.Read(SafetensorsFile.Write(tensors.Values));
        Lstm lstm = PyTorchStateDict.CreateLstm(loaded);
        int[] xShape = Shape(inputs.GetProperty("input"));
        int batch = xShape[1];
        float[] x = Floats(inputs.GetProperty("input"));
        float[] y = new float[xShape[0] * batch * lstm.OutputSize];
        float[] h = new float[batch * lstm.HiddenSize], c = new float[batch * lstm.HiddenSize];
        lstm.Forward(batch, x, default, default, y, h, c);
        JsonElement outputs = doc.RootElement.GetProperty("outputs");
        foreach ((string name, float[] got) in (ReadOnlySpan<(string, float[])>)[("output", y), ("h_n", h), ("c_n", c)])
        {
            float[] expected = Floats(outputs.GetProperty(name));
            Assert.Equal(expected.Length, got.Length);
            for (int k = 0; k < expected.Length; k++)
            {
                Check.Near(expected[k], got[k], 1e-3, "PyTorch golden " + name, k);
            }
        }
    }

    internal static int[] Shape(JsonElement tensor) => tensor.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    internal static float[] Floats(JsonElement tensor) => tensor.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray();

    /// <summary>One ONNX LSTM node with its inputs, in ONNX's layout; runs it through Lstm or ReferenceLstm.</summary>
    internal sealed class OnnxCase
    {
        public required int Hidden { get; init; }

        public required LstmOptions Options { get; init; }

        public required int Steps { get; init; }

        public required int Batch { get; init; }

        public required float[] X { get; init; }

        public required float[] W { get; init; }

        public required float[] R { get; init; }

        public float[] B { get; init; } = [];

        public float[] P { get; init; } = [];

        public int[] SequenceLengths { get; init; } = [];

        public float[] InitialH { get; init; } = [];

        public float[] InitialC { get; init; } = [];

        public List<(string Name, float[] Values)> Expected { get; } = [];

        public static OnnxCase FromJson(JsonElement root)
        {
            JsonElement a = root.GetProperty("attributes_effective");
            JsonElement inputs = root.GetProperty("inputs");
            string[] acts = a.GetProperty("activations").EnumerateArray().Select(e => e.GetString()!).ToArray();
            float? clip = a.GetProperty("clip").ValueKind == JsonValueKind.Null ? null : a.GetProperty("clip").GetSingle();
            int layout = a.GetProperty("layout").GetInt32();
            var options = new LstmOptions
            {
                Direction = a.GetProperty("direction").GetString() switch { "reverse" => LstmDirection.Reverse, "bidirectional" => LstmDirection.Bidirectional, _ => LstmDirection.Forward },
                BatchFirst = layout == 1,
                Clip = clip,
                InputForget = a.GetProperty("input_forget").GetInt32() != 0,
                GateActivation = Enum.Parse<LstmActivation>(acts[0]),
                CellActivation = Enum.Parse<LstmActivation>(acts[1]),
                HiddenActivation = Enum.Parse<LstmActivation>(acts[2]),
            };
            int[] xShape = Shape(inputs.GetProperty("X"));
            float[] Opt(string name) => inputs.TryGetProperty(name, out JsonElement e) ? Floats(e) : [];
            var c = new OnnxCase
            {
                Hidden = a.GetProperty("hidden_size").GetInt32(),
                Options = options,
                Steps = layout == 0 ? xShape[0] : xShape[1],
                Batch = layout == 0 ? xShape[1] : xShape[0],
                X = Floats(inputs.GetProperty("X")),
                W = Floats(inputs.GetProperty("W")),
                R = Floats(inputs.GetProperty("R")),
                B = Opt("B"),
                P = Opt("P"),
                InitialH = Opt("initial_h"),
                InitialC = Opt("initial_c"),
                SequenceLengths = inputs.TryGetProperty("sequence_lens", out JsonElement sl) ? sl.GetProperty("data").EnumerateArray().Select(e => e.GetInt32()).ToArray() : [],
            };
            foreach (JsonProperty o in root.GetProperty("outputs").EnumerateObject())
            {
                c.Expected.Add((o.Name, Floats(o.Value)));
            }

            return c;
        }

        public OnnxOutputs Run(bool useReference)
        {
            Lstm lstm = OnnxLayout.CreateLstm(Hidden, W, R, B, P, Options);
            int d = lstm.Directions, h = Hidden, b = Batch, t = Steps;
            bool layout1 = Options.BatchFirst;
            float[] y = new float[t * b * d * h], hT = new float[d * b * h], cT = new float[d * b * h];
            float[] h0 = layout1 && InitialH.Length > 0 ? Swap01(InitialH, b, d, h) : InitialH;
            float[] c0 = layout1 && InitialC.Length > 0 ? Swap01(InitialC, b, d, h) : InitialC;
            if (useReference)
            {
                // The weights come back with their peepholes.
                var cells = new LstmParameters[d];
                for (int k = 0; k < d; k++)
                {
                    cells[k] = lstm.GetParameters(0, k);
                    Assert.Equal(P.Length != 0, cells[k].HasPeepholes);
                }

                new ReferenceLstm(cells, lstm.Options).Forward(b, X, h0, c0, y, hT, cT, SequenceLengths);
            }
            else
            {
                lstm.Forward(b, X, h0, c0, y, hT, cT, SequenceLengths);
            }

            // Ours: y [T, B, D·H] (layout 1: [B, T, D·H], which is ONNX's [B, T, D, H]); ONNX layout 0: Y [T, D, B, H].
            float[] onnxY = layout1 ? y : Swap12(y, t, b, d, h);
            float[] onnxH = layout1 ? Swap01(hT, d, b, h) : hT;
            float[] onnxC = layout1 ? Swap01(cT, d, b, h) : cT;
            return new OnnxOutputs(onnxY, onnxH, onnxC);
        }

        /// <summary>[A, B, F] → [B, A, F].</summary>
        internal static float[] Swap01(float[] v, int a, int b, int f)
        {
            float[] r = new float[v.Length];
            Transpose01(v, r, a, b, f);
            return r;
        }

        /// <summary>[T, B, D, H] → [T, D, B, H].</summary>
        internal static float[] Swap12(float[] v, int t, int b, int d, int h)
        {
            float[] r = new float[v.Length];
            for (int s = 0; s < t; s++)
            {
                Transpose01(v.AsSpan(s * b * d * h, b * d * h), r.AsSpan(s * b * d * h, b * d * h), b, d, h);
            }

            return r;
        }
    }

    internal sealed record OnnxOutputs(float[] Y, float[] YH, float[] YC)
    {
        public float[] Get(string name) => name switch
        {
            "Y" => Y,
            "Y_h" => YH,
            "Y_c" => YC,
            _ => throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"unknown output {name}"), nameof(name)),
        };
    }

    /// <summary>Swaps the first two axes: <paramref name="source"/> <c>[A, B, F]</c> to <paramref name="destination"/> <c>[B, A, F]</c>.</summary>
    private static void Transpose01(ReadOnlySpan<float> source, Span<float> destination, int a, int b, int features)
    {
        for (int i = 0; i < a; i++)
        {
            for (int j = 0; j < b; j++)
            {
                source.Slice(((i * b) + j) * features, features).CopyTo(destination.Slice(((j * a) + i) * features, features));
            }
        }
    }
}
