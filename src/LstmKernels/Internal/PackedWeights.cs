using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// The weights of one cell packed for the fused step: hidden units in panels of 16, each panel one sequential
/// stream. Panel p holds a bias row and then, for each of the K = I + H inputs of a step (x first, then h), a row
/// of 64 floats: the 16 weights of gate i, then f, g, o, for units 16p..16p+15. The last panel is zero-padded.
/// </summary>
/// <remarks>
/// The layout does not depend on the machine's vector width, so a packed model is the same bytes everywhere.
/// The buffer sits on the pinned object heap, aligned to 64 bytes so that no panel row splits a cache line.
/// </remarks>
internal sealed class PackedWeights
{
    public const int Width = PanelWidth.Value;
    public const int RowFloats = 4 * Width;

    private readonly float[] buffer;
    private readonly int offset;

    public PackedWeights(LstmParameters p, string paramName)
    {
        Input = p.InputSize;
        Hidden = p.HiddenSize;
        Panels = (Hidden + Width - 1) / Width;
        RowsPerPanel = 1 + Input + Hidden;
        long length = (long)Panels * RowsPerPanel * RowFloats;
        if (length + Width > Array.MaxLength)
        {
            ThrowHelper.Argument(paramName, $"'{paramName}' (I = {Input}, H = {Hidden}) packs into {length} floats, more than one array can hold.");
        }

        buffer = GC.AllocateArray<float>((int)length + Width, pinned: true);
        offset = AlignmentOffset(buffer);
        Span<float> packed = buffer.AsSpan(offset, (int)length);

        ReadOnlySpan<float> wIh = p.WeightIh;
        ReadOnlySpan<float> wHh = p.WeightHh;
        ReadOnlySpan<float> bias = p.Bias;
        for (int gate = 0; gate < 4; gate++)
        {
            for (int unit = 0; unit < Hidden; unit++)
            {
                int row = (gate * Hidden) + unit;
                int panelBase = (unit / Width) * RowsPerPanel * RowFloats;
                int lane = (gate * Width) + (unit % Width);
                packed[panelBase + lane] = bias[row];
                for (int k = 0; k < Input; k++)
                {
                    packed[panelBase + ((1 + k) * RowFloats) + lane] = wIh[(row * Input) + k];
                }

                for (int k = 0; k < Hidden; k++)
                {
                    packed[panelBase + ((1 + Input + k) * RowFloats) + lane] = wHh[(row * Hidden) + k];
                }
            }
        }
    }

    public int Input { get; }

    public int Hidden { get; }

    public int Panels { get; }

    /// <summary>1 (bias) + I + H rows of <see cref="RowFloats"/> floats per panel.</summary>
    public int RowsPerPanel { get; }

    public int PanelFloats => RowsPerPanel * RowFloats;

    /// <summary>Bytes the step streams from memory: the whole packed buffer.</summary>
    public long Bytes => (long)Panels * PanelFloats * sizeof(float);

    /// <summary>Floats of one row of a sequence's input projection: 64 pre-activations per panel.</summary>
    public int ProjectionFloats => Panels * RowFloats;

    /// <summary>The first float of panel <paramref name="p"/> (its bias row).</summary>
    public ref float Panel(int p) => ref buffer[offset + (p * PanelFloats)];

    private static unsafe int AlignmentOffset(float[] pinned)
    {
        nuint address = (nuint)Unsafe.AsPointer(ref pinned[0]);
        int misalignment = (int)(address % 64);
        return misalignment == 0 ? 0 : (64 - misalignment) / sizeof(float);
    }
}
