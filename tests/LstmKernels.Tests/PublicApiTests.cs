using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace LstmKernels.Tests;

/// <summary>
/// The public surface of LstmKernels, written as text by reflection and compared with the checked-in baseline
/// <c>PublicApiBaseline.txt</c>, so that every API change is a deliberate, reviewed edit of that file.
/// </summary>
public sealed class PublicApiTests
{
    private const string BaselineName = "PublicApiBaseline.txt";
    private const string UpdateVariable = "LSTMKERNELS_UPDATE_API";

    [Fact]
    public void PublicApi_MatchesTheBaseline()
    {
        string path = Path.Combine(RepositoryRoot(), "tests", "LstmKernels.Tests", BaselineName);
        string actual = PublicApi.Describe(typeof(LstmCell).Assembly);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(path, actual);
        }

        string expected = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        if (expected == actual)
        {
            return;
        }

        string[] before = expected.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] after = actual.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var removed = before.Except(after, StringComparer.Ordinal).ToArray();
        var added = after.Except(before, StringComparer.Ordinal).ToArray();
        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"The public API differs from tests/LstmKernels.Tests/{BaselineName} ({removed.Length} line(s) removed, {added.Length} added).\n");
        foreach (string line in removed)
        {
            message.Append("- ").Append(line).Append('\n');
        }

        foreach (string line in added)
        {
            message.Append("+ ").Append(line).Append('\n');
        }

        if (removed.Length == 0 && added.Length == 0)
        {
            message.Append("(same lines, different order or blank lines)\n");
        }

        message.Append(CultureInfo.InvariantCulture, $"If the change is intended, update the baseline: {UpdateVariable}=1 dotnet test -c Release --filter PublicApi_MatchesTheBaseline, ");
        message.Append("review the diff of the baseline file and commit it with the change (a removed or changed line breaks callers).");
        Assert.Fail(message.ToString());
    }

    [Fact]
    public void PublicApi_DescribesTheKnownSurface()
    {
        // The writer itself: a reflection filter that drops members would make the baseline test pass trivially.
        string api = PublicApi.Describe(typeof(LstmCell).Assembly);
        Assert.Contains("public sealed class LstmKernels.LstmCell", api, StringComparison.Ordinal);
        Assert.Contains(
            "LstmKernels.LstmCell: public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)",
            api,
            StringComparison.Ordinal);
        Assert.Contains("LstmKernels.Lstm: public LstmKernels.LstmSession CreateSession(int batchSize = 1)", api, StringComparison.Ordinal);
        Assert.Contains("LstmKernels.Lstm: [Obsolete] public float[]? GetPeepholes(int layer, int direction)", api, StringComparison.Ordinal);
        Assert.Contains("LstmKernels.Lstm: public static LstmKernels.Lstm Create(IReadOnlyList<LstmKernels.LstmParameters> cells, LstmKernels.LstmOptions? options = null)", api, StringComparison.Ordinal);
        Assert.Contains("LstmKernels.LstmOptions: public float? Clip { get; init; }", api, StringComparison.Ordinal);
        Assert.Contains("LstmKernels.SimdPath: Scalar = ", api, StringComparison.Ordinal);
        Assert.DoesNotContain("LstmKernels.Internal", api, StringComparison.Ordinal);
        Assert.Equal(api, PublicApi.Describe(typeof(LstmCell).Assembly));
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstmKernels.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LstmKernels.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>
/// Writes an assembly's public surface (types visible outside it, with their public and protected members) as
/// lines of C#-like signatures, nullability included: each type (sorted by name) on one line, then its members, one
/// per line, sorted and prefixed with the type's name, so a diff shows exactly what changed and where.
/// </summary>
internal static class PublicApi
{
    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(void)] = "void", [typeof(bool)] = "bool", [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short", [typeof(ushort)] = "ushort", [typeof(int)] = "int", [typeof(uint)] = "uint",
        [typeof(long)] = "long", [typeof(ulong)] = "ulong", [typeof(float)] = "float", [typeof(double)] = "double",
        [typeof(decimal)] = "decimal", [typeof(char)] = "char", [typeof(string)] = "string", [typeof(object)] = "object",
    };

    public static string Describe(Assembly assembly)
    {
        var text = new StringBuilder();
        var nullability = new NullabilityInfoContext();
        foreach (Type type in assembly.GetExportedTypes().OrderBy(TypeName, StringComparer.Ordinal))
        {
            text.Append(TypeLine(type)).Append('\n');
            string owner = TypeName(type) + ": ";
            var members = new List<string>();
            foreach (MemberInfo member in type.GetMembers(Declared))
            {
                string? line = MemberLine(type, member, nullability);
                if (line is not null)
                {
                    // Deprecations are part of the surface: a forwarder shows as such until it is removed.
                    members.Add(owner + (member.IsDefined(typeof(ObsoleteAttribute), inherit: false) ? "[Obsolete] " : "") + line);
                }
            }

            members.Sort(StringComparer.Ordinal);
            foreach (string line in members)
            {
                text.Append(line).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string TypeLine(Type type)
    {
        string kind =
            type.IsEnum ? "enum"
            : type.IsInterface ? "interface"
            : type.IsValueType ? "struct"
            : typeof(Delegate).IsAssignableFrom(type) ? "delegate"
            : type.IsAbstract && type.IsSealed ? "static class"
            : type.IsSealed ? "sealed class"
            : type.IsAbstract ? "abstract class"
            : "class";
        if (type.GetMethod("<Clone>$") is not null)
        {
            kind = kind.Replace("class", "record class", StringComparison.Ordinal);
        }

        var bases = new List<string>();
        if (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum))
        {
            bases.Add(TypeName(b));
        }

        if (!type.IsEnum)
        {
            bases.AddRange(type.GetInterfaces().Select(TypeName).Order(StringComparer.Ordinal));
        }
        return $"public {kind} {TypeName(type)}" + (bases.Count > 0 ? " : " + string.Join(", ", bases) : "");
    }

    private static string? MemberLine(Type type, MemberInfo member, NullabilityInfoContext nullability)
    {
        switch (member)
        {
            case FieldInfo f when Visible(f.IsPublic, f.IsFamily || f.IsFamilyOrAssembly) && !f.IsSpecialName:
                if (type.IsEnum)
                {
                    return $"{f.Name} = {Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture)}";
                }

                string modifiers = f.IsLiteral ? "const " : (f.IsStatic ? "static " : "") + (f.IsInitOnly ? "readonly " : "");
                string value = f.IsLiteral ? " = " + Literal(f.GetRawConstantValue()) : "";
                return $"{Access(f.IsPublic)} {modifiers}{Nullable(nullability.Create(f))} {f.Name}{value}";

            case ConstructorInfo c when Visible(c.IsPublic, c.IsFamily || c.IsFamilyOrAssembly):
                return $"{Access(c.IsPublic)} {(c.IsStatic ? "static " : "")}ctor({Parameters(c.GetParameters(), nullability)})";

            case MethodInfo m when Visible(m.IsPublic, m.IsFamily || m.IsFamilyOrAssembly) && (!m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal)):
                string generic = m.IsGenericMethodDefinition ? "<" + string.Join(", ", m.GetGenericArguments().Select(a => a.Name)) + ">" : "";
                return $"{Access(m.IsPublic)} {MethodModifiers(m)}{Nullable(nullability.Create(m.ReturnParameter))} {m.Name}{generic}({Parameters(m.GetParameters(), nullability)})";

            case PropertyInfo p:
                MethodInfo? get = p.GetMethod is { } g && Visible(g.IsPublic, g.IsFamily || g.IsFamilyOrAssembly) ? g : null;
                MethodInfo? set = p.SetMethod is { } s && Visible(s.IsPublic, s.IsFamily || s.IsFamilyOrAssembly) ? s : null;
                MethodInfo? any = get ?? set;
                if (any is null)
                {
                    return null;
                }

                bool init = set is not null && set.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));
                string accessors = (get is not null ? "get; " : "") + (set is not null ? (init ? "init; " : "set; ") : "");
                string name = p.GetIndexParameters().Length > 0 ? $"this[{Parameters(p.GetIndexParameters(), nullability)}]" : p.Name;
                return $"{Access(any.IsPublic)} {MethodModifiers(any)}{Nullable(nullability.Create(p))} {name} {{ {accessors}}}";

            case EventInfo e when e.AddMethod is { } add && Visible(add.IsPublic, add.IsFamily || add.IsFamilyOrAssembly):
                return $"{Access(add.IsPublic)} event {TypeName(e.EventHandlerType!)} {e.Name}";

            default:
                return null;
        }
    }

    private static bool Visible(bool isPublic, bool isProtected) => isPublic || isProtected;

    private static string Access(bool isPublic) => isPublic ? "public" : "protected";

    private static string MethodModifiers(MethodInfo m) =>
        m.IsStatic ? "static "
        : m.IsAbstract ? "abstract "
        : m.IsVirtual && !m.IsFinal && m.GetBaseDefinition() == m && !m.DeclaringType!.IsInterface ? "virtual "
        : m.IsVirtual && m.GetBaseDefinition() != m ? "override "
        : "";

    private static string Parameters(ParameterInfo[] parameters, NullabilityInfoContext nullability) =>
        string.Join(", ", parameters.Select(p => Parameter(p, nullability)));

    private static string Parameter(ParameterInfo p, NullabilityInfoContext nullability)
    {
        string prefix =
            p.IsDefined(typeof(ParamArrayAttribute)) ? "params "
            : p.ParameterType.IsByRef ? (p.IsOut ? "out " : p.IsIn ? "in " : "ref ")
            : "";
        string text = $"{prefix}{Nullable(nullability.Create(p))} {p.Name}";
        if (p.HasDefaultValue)
        {
            text += " = " + (p.DefaultValue is null && p.ParameterType.IsValueType ? "default" : Literal(p.DefaultValue));
        }

        return text;
    }

    private static string Literal(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        bool b => b ? "true" : "false",
        float f => f.ToString("R", CultureInfo.InvariantCulture) + "f",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>A type with the nullability of its uses (T? for nullable references), recursively.</summary>
    private static string Nullable(NullabilityInfo info)
    {
        Type type = info.Type.IsByRef ? info.Type.GetElementType()! : info.Type;
        string name;
        if (info.ElementType is { } element)
        {
            name = Nullable(element) + "[]";
        }
        else if (type.IsGenericType && info.GenericTypeArguments.Length > 0 && System.Nullable.GetUnderlyingType(type) is null)
        {
            string definition = GenericName(type);
            name = definition + "<" + string.Join(", ", info.GenericTypeArguments.Select(Nullable)) + ">";
        }
        else
        {
            name = TypeName(type);
        }

        return !type.IsValueType && info.ReadState == NullabilityState.Nullable ? name + "?" : name;
    }

    private static string TypeName(Type type)
    {
        if (type.IsByRef)
        {
            return TypeName(type.GetElementType()!);
        }

        if (Keywords.TryGetValue(type, out string? keyword))
        {
            return keyword;
        }

        if (type.IsArray)
        {
            return TypeName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        if (System.Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return TypeName(underlying) + "?";
        }

        if (type.IsGenericParameter)
        {
            return type.Name;
        }

        if (type.IsGenericType)
        {
            return GenericName(type) + "<" + string.Join(", ", type.GetGenericArguments().Select(TypeName)) + ">";
        }

        return QualifiedName(type, type.Name);
    }

    private static string GenericName(Type type)
    {
        string name = type.Name;
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        return QualifiedName(type, tick < 0 ? name : name[..tick]);
    }

    private static string QualifiedName(Type type, string name)
    {
        if (type.IsNested)
        {
            return TypeName(type.DeclaringType!) + "." + name;
        }

        // System types are written short (Span<float>, IReadOnlyList<T>); the library's own with their namespace.
        string? ns = type.Namespace;
        return ns is null || ns == "System" || ns.StartsWith("System.", StringComparison.Ordinal) ? name : ns + "." + name;
    }
}
