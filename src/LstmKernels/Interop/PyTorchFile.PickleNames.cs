using System.Globalization;

namespace LstmKernels.Interop;

/// <summary>The globals a state_dict's pickle may name; nothing else is accepted.</summary>
internal enum PickleGlobal
{
    /// <summary><c>collections.OrderedDict</c>, called with no arguments.</summary>
    OrderedDict,

    /// <summary><c>torch._utils._rebuild_tensor_v2</c>.</summary>
    RebuildTensorV2,

    /// <summary><c>torch._utils._rebuild_parameter</c> (a state_dict saved with <c>keep_vars=True</c>).</summary>
    RebuildParameter,

    /// <summary><c>torch.FloatStorage</c> (float32); this and the storages below only appear in persistent ids.</summary>
    FloatStorage,

    /// <summary><c>torch.HalfStorage</c> (float16).</summary>
    HalfStorage,

    /// <summary><c>torch.BFloat16Storage</c>.</summary>
    BFloat16Storage,

    /// <summary><c>torch.DoubleStorage</c> (float64); the storages below hold integers or bools, read as opaque tensors.</summary>
    DoubleStorage,

    /// <summary><c>torch.LongStorage</c> (int64: a BatchNorm's <c>num_batches_tracked</c>, <c>position_ids</c>).</summary>
    LongStorage,

    /// <summary><c>torch.IntStorage</c> (int32).</summary>
    IntStorage,

    /// <summary><c>torch.ShortStorage</c> (int16).</summary>
    ShortStorage,

    /// <summary><c>torch.CharStorage</c> (int8).</summary>
    CharStorage,

    /// <summary><c>torch.ByteStorage</c> (uint8).</summary>
    ByteStorage,

    /// <summary><c>torch.BoolStorage</c>.</summary>
    BoolStorage,
}

/// <summary>A pickled dict or <c>collections.OrderedDict</c>: its items in order, by their str keys (each key once).</summary>
internal sealed class PickleDict(bool ordered)
{
    private OrderedDictionary<string, object?>? items;

    public bool Ordered { get; } = ordered;

    public int Count => items?.Count ?? 0;

    public IEnumerable<KeyValuePair<string, object?>> Items => items ?? Enumerable.Empty<KeyValuePair<string, object?>>();

    /// <summary>Adds an item; false if the key is already there.</summary>
    public bool TryAdd(string key, object? value) => (items ??= new OrderedDictionary<string, object?>(StringComparer.Ordinal)).TryAdd(key, value);
}

public static partial class PyTorchFile
{
    /// <summary>The unpickler's vocabulary: the allow-list, the names of values and opcodes for messages.</summary>
    private sealed partial class Unpickler
    {
        private const string AllowList = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.FloatStorage, torch.HalfStorage, torch.BFloat16Storage, torch.DoubleStorage, and as opaque values torch.LongStorage, torch.IntStorage, torch.ShortStorage, torch.CharStorage, torch.ByteStorage, torch.BoolStorage";

        /// <summary>What a value is, for messages: its Python type, or the global's name.</summary>
        public static string Describe(object? value) => value switch
        {
            null => "None",
            bool => "a bool",
            long v => "the int " + v.ToString(CultureInfo.InvariantCulture),
            string s => "the str " + Quote(s),
            object?[] t => $"a tuple of {t.Length}",
            PickleDict d => d.Ordered ? "an OrderedDict" : "a dict",
            PickleGlobal g => Name(g),
            Storage => "a storage",
            TensorValue => "a tensor",
            OpaqueTensor o => $"a tensor of {Name(o.Type)}",
            _ => value.GetType().Name,
        };

        /// <summary>The global's Python name.</summary>
        public static string Name(PickleGlobal global) => global switch
        {
            PickleGlobal.OrderedDict => "collections.OrderedDict",
            PickleGlobal.RebuildTensorV2 => "torch._utils._rebuild_tensor_v2",
            PickleGlobal.RebuildParameter => "torch._utils._rebuild_parameter",
            PickleGlobal.FloatStorage => "torch.FloatStorage",
            PickleGlobal.HalfStorage => "torch.HalfStorage",
            PickleGlobal.BFloat16Storage => "torch.BFloat16Storage",
            PickleGlobal.DoubleStorage => "torch.DoubleStorage",
            PickleGlobal.LongStorage => "torch.LongStorage",
            PickleGlobal.IntStorage => "torch.IntStorage",
            PickleGlobal.ShortStorage => "torch.ShortStorage",
            PickleGlobal.CharStorage => "torch.CharStorage",
            PickleGlobal.ByteStorage => "torch.ByteStorage",
            _ => "torch.BoolStorage",
        };

        private static string OpcodeName(byte op) => op switch
        {
            (byte)'0' => "POP",
            (byte)'1' => "POP_MARK",
            (byte)'2' => "DUP",
            (byte)'F' => "FLOAT",
            (byte)'I' => "INT",
            (byte)'L' => "LONG",
            (byte)'P' => "PERSID",
            (byte)'S' => "STRING",
            (byte)'T' => "BINSTRING",
            (byte)'U' => "SHORT_BINSTRING",
            (byte)'V' => "UNICODE",
            (byte)'a' => "APPEND",
            (byte)'d' => "DICT",
            (byte)'e' => "APPENDS",
            (byte)'g' => "GET",
            (byte)'i' => "INST",
            (byte)'l' => "LIST",
            (byte)'o' => "OBJ",
            (byte)'p' => "PUT",
            (byte)']' => "EMPTY_LIST",
            (byte)'G' => "BINFLOAT",
            0x81 => "NEWOBJ",
            0x82 => "EXT1",
            0x83 => "EXT2",
            0x84 => "EXT4",
            0x8B => "LONG4",
            (byte)'B' => "BINBYTES",
            (byte)'C' => "SHORT_BINBYTES",
            0x8D => "BINUNICODE8",
            0x8E => "BINBYTES8",
            0x8F => "EMPTY_SET",
            0x90 => "ADDITEMS",
            0x91 => "FROZENSET",
            0x92 => "NEWOBJ_EX",
            0x96 => "BYTEARRAY8",
            0x97 => "NEXT_BUFFER",
            0x98 => "READONLY_BUFFER",
            _ => "unknown",
        };

        /// <summary>Accepts the allow-listed globals; every other one is refused by its module and name.</summary>
        private PickleGlobal Resolve(string module, string name) => (module, name) switch
        {
            ("collections", "OrderedDict") => PickleGlobal.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => PickleGlobal.RebuildTensorV2,
            ("torch._utils", "_rebuild_parameter") => PickleGlobal.RebuildParameter,
            ("torch", "FloatStorage") => PickleGlobal.FloatStorage,
            ("torch", "HalfStorage") => PickleGlobal.HalfStorage,
            ("torch", "BFloat16Storage") => PickleGlobal.BFloat16Storage,
            ("torch", "DoubleStorage") => PickleGlobal.DoubleStorage,
            ("torch", "LongStorage") => PickleGlobal.LongStorage,
            ("torch", "IntStorage") => PickleGlobal.IntStorage,
            ("torch", "ShortStorage") => PickleGlobal.ShortStorage,
            ("torch", "CharStorage") => PickleGlobal.CharStorage,
            ("torch", "ByteStorage") => PickleGlobal.ByteStorage,
            ("torch", "BoolStorage") => PickleGlobal.BoolStorage,
            _ => Fail<PickleGlobal>($"the global {Quote(module + "." + name)}, which is not on the allow-list of a state_dict ({AllowList}); nothing in the file is run"),
        };
    }
}
