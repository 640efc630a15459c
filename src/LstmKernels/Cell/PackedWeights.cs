using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// The weights of one cell packed for the fused step: hidden units in panels of 16, each panel one sequential
/// stream. Panel p holds, for each of the K = I + H inputs of a step (x first, then h), a row of 64 weights: the
/// four gates' weights of units 16p..16p+15, in the cell's <see cref="WeightPrecision"/> and in that format's order
/// within the row (<see cref="IWeightFormat.Lane"/>: gate-major for float32 and int8, gates paired in 32-bit lanes
/// for bfloat16 so that they decode with a shift and a mask). The last panel is zero-padded. Biases (and int8
/// scales) are float32 side arrays of 64 per panel.
/// </summary>
/// <remarks>
/// The layout does not depend on the machine's vector width, so a packed model is the same bytes everywhere.
/// The weight buffer sits on the pinned object heap, aligned to 64 bytes so that no panel row splits a cache line.
/// </remarks>
internal sealed class PackedWeights
{
    public const int Width = PanelWidth.Value;
    public const int RowFloats = 4 * Width;

    private readonly byte[] buffer;
    private readonly int offset;
    private readonly float[] bias;
    private readonly float[] scale;

    public PackedWeights(LstmParameters p, WeightPrecision precision, string paramName)
    {
        Input = p.InputSize;
        Hidden = p.HiddenSize;
        Precision = precision;
        ElementBytes = precision switch { WeightPrecision.Float32 => 4, WeightPrecision.BFloat16 => 2, _ => 1 };
        Panels = (Hidden + Width - 1) / Width;
        int k = Input + Hidden;
        long length = (long)Panels * k * RowFloats * ElementBytes;
        if (length + 64 > Array.MaxLength)
        {
            ThrowHelper.Argument(paramName, $"'{paramName}' (I = {Input}, H = {Hidden}) packs into {length} bytes, more than one array can hold.");
        }

        PanelBytes = k * RowFloats * ElementBytes;
        buffer = GC.AllocateArray<byte>((int)length + 64, pinned: true);
        offset = AlignmentOffset(buffer);
        bias = new float[Panels * RowFloats];
        scale = new float[precision == WeightPrecision.Int8 ? Panels * RowFloats : 0];

        ReadOnlySpan<float> wIh = p.WeightIh;
        ReadOnlySpan<float> wHh = p.WeightHh;
        ReadOnlySpan<float> b = p.Bias;
        for (int gate = 0; gate < 4; gate++)
        {
            for (int unit = 0; unit < Hidden; unit++)
            {
                int row = (gate * Hidden) + unit;
                int lane = ((unit / Width) * RowFloats) + (gate * Width) + (unit % Width);
                bias[lane] = b[row];
                ReadOnlySpan<float> ih = wIh.Slice(row * Input, Input);
                ReadOnlySpan<float> hh = wHh.Slice(row * Hidden, Hidden);
                float s = 1f;
                if (precision == WeightPrecision.Int8)
                {
                    float max = Math.Max(MaxMagnitude(ih), MaxMagnitude(hh));
                    s = max / 127f;
                    scale[lane] = s;
                }

                for (int j = 0; j < Input; j++)
                {
                    Set(unit, gate, j, ih[j], s);
                }

                for (int j = 0; j < Hidden; j++)
                {
                    Set(unit, gate, Input + j, hh[j], s);
                }
            }
        }

        // The overflow guard's bound (OverflowGuard): effective weights are at most the largest |w| (int8 rounds
        // within a row's max, bfloat16 up by at most 2⁻⁸ relative); int8 also sums the unscaled codes, up to 127.
        double maxWeight = Math.Max(MaxMagnitude(wIh), MaxMagnitude(wHh));
        maxWeight = precision switch
        {
            WeightPrecision.BFloat16 => maxWeight * (1 + (1.0 / 128)),
            WeightPrecision.Int8 => Math.Max(maxWeight, 127),
            _ => maxWeight,
        };
        SafeInput = OverflowGuard.SafeInput(k, maxWeight, MaxMagnitude(b));
    }

    /// <summary>
    /// The largest max|v| over one row's step input <c>concat(x, hPrev)</c> for which no float sum of the step can
    /// overflow (see <see cref="OverflowGuard"/>); rows above it take the guard's double path.
    /// </summary>
    public float SafeInput { get; }

    public int Input { get; }

    public int Hidden { get; }

    public WeightPrecision Precision { get; }

    public int ElementBytes { get; }

    public int Panels { get; }

    /// <summary>Bytes of one panel: K rows of 64 weights.</summary>
    public int PanelBytes { get; }

    /// <summary>Bytes a step streams: every packed weight once (the small bias and scale arrays aside).</summary>
    public long Bytes => (long)Panels * PanelBytes;

    /// <summary>Floats of one row of a sequence's input projection: 64 pre-activations per panel.</summary>
    public int ProjectionFloats => Panels * RowFloats;

    /// <summary>The first byte of panel <paramref name="p"/>'s weight rows.</summary>
    public ref byte Rows(int p) => ref buffer[offset + (p * PanelBytes)];

    /// <summary>The 64 biases of panel <paramref name="p"/>.</summary>
    public ref float Bias(int p) => ref bias[p * RowFloats];

    /// <summary>The 64 int8 scales of panel <paramref name="p"/> (int8 precision only).</summary>
    public ref float Scale(int p) => ref scale[p * RowFloats];

    /// <summary>The weight of <paramref name="gate"/>, unit <paramref name="unit"/>, step input <paramref name="input"/> as the step uses it.</summary>
    public float Effective(int gate, int unit, int input)
    {
        int at = Index(unit, gate, input);
        return Precision switch
        {
            WeightPrecision.Float32 => Unsafe.As<byte, float>(ref buffer[offset + (at * 4)]),
            WeightPrecision.BFloat16 => BitConverter.UInt32BitsToSingle((uint)Unsafe.As<byte, ushort>(ref buffer[offset + (at * 2)]) << 16),
            _ => (sbyte)buffer[offset + at] * scale[((unit / Width) * RowFloats) + (gate * Width) + (unit % Width)],
        };
    }

    /// <summary>Rounds to bfloat16, to nearest with ties to even (weights are finite).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    private void Set(int unit, int gate, int input, float value, float s)
    {
        int at = Index(unit, gate, input);
        switch (Precision)
        {
            case WeightPrecision.Float32:
                Unsafe.As<byte, float>(ref buffer[offset + (at * 4)]) = value;
                break;
            case WeightPrecision.BFloat16:
                Unsafe.As<byte, ushort>(ref buffer[offset + (at * 2)]) = ToBFloat16(value);
                break;
            default:
                buffer[offset + at] = (byte)(sbyte)(s == 0 ? 0 : Math.Clamp(MathF.Round(value / s), -127f, 127f));
                break;
        }
    }

    /// <summary>Element index of a weight: panel, then step input (row), then its place in the row (see <see cref="IWeightFormat.Lane"/>).</summary>
    private int Index(int unit, int gate, int input)
    {
        int lane = Precision == WeightPrecision.BFloat16 ? BFloat16Weights.Lane(gate, unit % Width) : Float32Weights.Lane(gate, unit % Width);
        return ((unit / Width) * (Input + Hidden) * RowFloats) + (input * RowFloats) + lane;
    }

    private static float MaxMagnitude(ReadOnlySpan<float> values)
    {
        // Scalar on purpose: the weights are finite and this runs once per cell.
        float max = 0;
        foreach (float v in values)
        {
            max = Math.Max(max, Math.Abs(v));
        }

        return max;
    }

    private static unsafe int AlignmentOffset(byte[] pinned)
    {
        nuint address = (nuint)Unsafe.AsPointer(ref pinned[0]);
        int misalignment = (int)(address % 64);
        return misalignment == 0 ? 0 : 64 - misalignment;
    }
}
