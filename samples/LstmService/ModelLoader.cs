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

    /// <summary>The model the options name, packed in their precision.</summary>
    /// <remarks>
    /// The format comes from the file's extension: <c>.safetensors</c> (<see cref="SafetensorsFile"/>) or <c>.pt</c> /
    /// <c>.pth</c> (a <c>torch.save(model.state_dict())</c> file, <see cref="PyTorchFile"/>), both an <c>nn.LSTM</c>'s
    /// state_dict under <see cref="ServiceOptions.ModelPrefix"/>; or <c>.onnx</c> (<see cref="OnnxFile"/>: what
    /// torch.onnx.export writes for an <c>nn.LSTM</c>, or a graph of LSTM nodes; the prefix does not apply).
    /// </remarks>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is not a forward LSTM in a format named above.</exception>
    /// <exception cref="NotSupportedException">Reduced precision for a model with projections, or (ONNX) with peepholes, clip or other activations.</exception>
    public static Lstm Load(ServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ModelPath is not string path)
        {
            return CreateDefault(options.Precision);
        }

        string extension = Path.GetExtension(path).ToUpperInvariant();
        if (extension == ".ONNX")
        {
            return LoadOnnx(path, options.Precision);
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

        if (options.Precision != WeightPrecision.Float32 && tensors.ContainsKey(options.ModelPrefix + "weight_hr_l0"))
        {
            throw new NotSupportedException(
                $"'{path}' has projections (proj_size {tensors[options.ModelPrefix + "weight_hr_l0"].Shape[0]}); reduced precision needs the fused route, which has none. Serve it with --precision float32.");
        }

        // Packed once, straight into the precision asked for.
        return PyTorchStateDict.CreateLstm(tensors, options.ModelPrefix, new LstmOptions { Precision = options.Precision });
    }

    /// <summary>An ONNX model (torch.onnx.export of an nn.LSTM, or a graph of LSTM nodes), packed in <paramref name="precision"/>.</summary>
    private static Lstm LoadOnnx(string path, WeightPrecision precision)
    {
        Lstm lstm;
        try
        {
            lstm = OnnxFile.ReadLstm(path, new LstmOptions { Precision = precision });
        }
        catch (ArgumentException e)
        {
            // The model is fine; the precision asked for is not one it can run in (peepholes, clip or other activations
            // take the unfused route, which computes in float32).
            throw new NotSupportedException($"'{path}' cannot be served in {precision}: {e.Message} Serve it with --precision float32.", e);
        }

        if (lstm.Options.Direction != LstmDirection.Forward)
        {
            throw new InvalidDataException(
                $"'{path}' holds a {lstm.Options.Direction.ToString().ToLowerInvariant()} LSTM; a streaming service steps one frame at a time, so it needs a forward one (a reverse direction needs the whole sequence).");
        }

        return lstm;
    }

    /// <summary>The deterministic default model: <see cref="DefaultLayers"/> layers, I = <see cref="DefaultInputSize"/>, H = <see cref="DefaultHiddenSize"/>.</summary>
    public static Lstm CreateDefault(WeightPrecision precision)
    {
        var cells = new LstmParameters[DefaultLayers];
        for (int layer = 0; layer < cells.Length; layer++)
        {
            cells[layer] = LstmParameters.CreateRandom(layer == 0 ? DefaultInputSize : DefaultHiddenSize, DefaultHiddenSize, DefaultSeed + layer);
        }

        return Lstm.Create(cells, new LstmOptions { Precision = precision });
    }
}
