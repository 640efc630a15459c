using LstmKernels;
using LstmKernels.Interop;

namespace LstmService;

/// <summary>Builds the served <see cref="Lstm"/>: from a PyTorch state_dict (safetensors or torch.save) or an ONNX model, or the deterministic default.</summary>
public static class ModelLoader
{
    /// <summary>The default model's input size I.</summary>
    public const int DefaultInputSize = 64;

    /// <summary>The default model's hidden size H.</summary>
    public const int DefaultHiddenSize = 256;

    /// <summary>The default model's layers.</summary>
    public const int DefaultLayers = 2;

    /// <summary>The default model's seed: layer l is <c>LstmParameters.CreateRandom(…, DefaultSeed + l)</c>.</summary>
    public const int DefaultSeed = 15;

    /// <summary>The model the options name, packed in their precision, with their step threads (<see cref="ServiceOptions.ResolvedStepThreads"/>; the automatic choice falls back to 1 for a model on the unfused route).</summary>
    /// <remarks>
    /// The format comes from the file's extension: <c>.safetensors</c> (<see cref="SafetensorsFile"/>) or <c>.pt</c> /
    /// <c>.pth</c> (a <c>torch.save(model.state_dict())</c> file, <see cref="PyTorchFile"/>), both an <c>nn.LSTM</c>'s
    /// state_dict under <see cref="ServiceOptions.ModelPrefix"/>; or <c>.onnx</c> (<see cref="OnnxFile"/>: what
    /// torch.onnx.export writes for an <c>nn.LSTM</c>, or a graph of LSTM nodes; the prefix does not apply).
    /// </remarks>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is not a forward LSTM in a format named above.</exception>
    /// <exception cref="NotSupportedException">Reduced precision for a model with projections, or (ONNX) reduced precision or 2 step threads asked for a model with peepholes, clip or other activations.</exception>
    public static Lstm Load(ServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int threads = options.ResolvedStepThreads;
        if (threads == 1 || options.StepThreads is not null)
        {
            return Load(options, new LstmOptions { Precision = options.Precision, StepThreads = threads });
        }

        try
        {
            return Load(options, new LstmOptions { Precision = options.Precision, StepThreads = threads });
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            // The automatic choice only: a model on the unfused route (projections, peepholes, clip, other activations)
            // steps on one thread.
            return Load(options, new LstmOptions { Precision = options.Precision });
        }
    }

    /// <summary>The deterministic default model: <see cref="DefaultLayers"/> layers, I = <see cref="DefaultInputSize"/>, H = <see cref="DefaultHiddenSize"/>.</summary>
    public static Lstm CreateDefault(WeightPrecision precision) => CreateDefault(new LstmOptions { Precision = precision });

    private static Lstm Load(ServiceOptions options, LstmOptions model)
    {
        if (options.ModelPath is not string path)
        {
            return CreateDefault(model);
        }

        string extension = Path.GetExtension(path).ToUpperInvariant();
        if (extension == ".ONNX")
        {
            return LoadOnnx(path, model);
        }

        IReadOnlyDictionary<string, FloatTensor> tensors = extension switch
        {
            ".SAFETENSORS" => SafetensorsFile.ReadFile(path),
            ".PT" or ".PTH" => PyTorchFile.ReadFile(path),
            _ => throw new InvalidDataException(
                $"'{path}' is not a model file the service reads: give a PyTorch nn.LSTM state_dict as .safetensors (safetensors' save_file) or .pt / .pth (torch.save), or an ONNX model as .onnx."),
        };

        if (tensors.ContainsKey(options.ModelPrefix + "weight_ih_l0_reverse"))
        {
            throw new InvalidDataException(
                $"'{path}' holds a bidirectional LSTM; a streaming service steps one frame at a time, so it needs a forward one (the reverse direction needs the whole sequence).");
        }

        if ((model.Precision != WeightPrecision.Float32 || model.StepThreads != 1) && tensors.ContainsKey(options.ModelPrefix + "weight_hr_l0"))
        {
            throw new NotSupportedException(
                $"'{path}' has projections (proj_size {tensors[options.ModelPrefix + "weight_hr_l0"].Shape[0]}); reduced precision and 2 step threads need the fused route, which has none. Serve it with --precision float32 --step-threads 1.");
        }

        // Packed once, straight into the precision asked for.
        return PyTorchStateDict.CreateLstm(tensors, options.ModelPrefix, model);
    }

    /// <summary>An ONNX model (torch.onnx.export of an nn.LSTM, or a graph of LSTM nodes), packed with <paramref name="model"/>'s precision and step threads.</summary>
    private static Lstm LoadOnnx(string path, LstmOptions model)
    {
        Lstm lstm;
        try
        {
            lstm = OnnxFile.ReadLstm(path, model);
        }
        catch (ArgumentException e)
        {
            // The model is fine; the precision or step threads asked for are not ones it can run with (peepholes, clip
            // or other activations take the unfused route, which computes in float32 on one thread).
            throw new NotSupportedException(
                $"'{path}' cannot be served in {ServiceOptions.PrecisionName(model.Precision)} with {model.StepThreads} step thread(s): {e.Message} Serve it with --precision float32 --step-threads 1.", e);
        }

        if (lstm.Options.Direction != LstmDirection.Forward)
        {
            throw new InvalidDataException(
                $"'{path}' holds a {lstm.Options.Direction.ToString().ToLowerInvariant()} LSTM; a streaming service steps one frame at a time, so it needs a forward one (a reverse direction needs the whole sequence).");
        }

        return lstm;
    }

    private static Lstm CreateDefault(LstmOptions model)
    {
        var cells = new LstmParameters[DefaultLayers];
        for (int layer = 0; layer < cells.Length; layer++)
        {
            cells[layer] = LstmParameters.CreateRandom(layer == 0 ? DefaultInputSize : DefaultHiddenSize, DefaultHiddenSize, DefaultSeed + layer);
        }

        return Lstm.Create(cells, model);
    }
}
