namespace EasyIm.Contracts;

/// <summary>
/// What every text a client sends must be before any service stores or queries it: Unicode text that
/// both stores accept. PostgreSQL refuses U+0000 in <c>text</c> (SQLSTATE 22021), and a string with an
/// unpaired surrogate cannot be encoded as UTF-8 at all; either would reach the database as an error
/// that has nothing to do with the database. The gateway checks at the edge (so the sender hears at once,
/// naming the field) and each service checks again, since no service trusts its callers.
/// </summary>
public static class TextRules
{
    /// <summary>What is wrong with <paramref name="text"/> as stored text, or null when nothing is (null and empty are fine here).</summary>
    public static string? Problem(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return null;
        var span = text.AsSpan();
        if (span.Contains('\0'))
            return "must not contain the NUL character (U+0000)";
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            if (!char.IsSurrogate(c))
                continue;
            if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i++;
                continue;
            }
            return "must be valid Unicode text (it holds an unpaired surrogate)";
        }
        return null;
    }

    /// <summary>(field, "field ...") when <paramref name="text"/> breaks a rule, else null: the shape the other rule classes answer in.</summary>
    public static (string Field, string Message)? Check(string? text, string field) =>
        Problem(text) is { } problem ? (field, $"{field} {problem}") : null;
}
