using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A conversation's id as the wire and the API spell it: <c>s_&lt;smaller user id&gt;_&lt;larger user id&gt;</c>
/// (numeric order) for one-to-one, <c>g_&lt;group id&gt;</c> for a group. Shared by the gateway (to
/// answer bad input early) and messaging (which never trusts its callers). Only the canonical
/// spelling parses, so one conversation never has two ids.
/// </summary>
public readonly record struct ConversationId
{
    /// <summary>Longest canonical id: "s_" and two 19-digit ids with a separator.</summary>
    public const int MaxLength = 41;

    private ConversationId(bool isGroup, long first, long second)
    {
        IsGroup = isGroup;
        First = first;
        Second = second;
    }

    public bool IsGroup { get; }
    /// <summary>The smaller user id of a one-to-one conversation, or the group id.</summary>
    public long First { get; }
    /// <summary>The larger user id of a one-to-one conversation; 0 for a group.</summary>
    public long Second { get; }

    public long GroupId => IsGroup ? First : throw new InvalidOperationException($"{this} is not a group conversation");
    public int ChatType => IsGroup ? 1 : 0;

    public static ConversationId ForPair(long a, long b)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(a);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(b);
        if (a == b)
            throw new ArgumentException("a one-to-one conversation needs two different users");
        return a < b ? new(false, a, b) : new(false, b, a);
    }

    public static ConversationId ForGroup(long groupId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupId);
        return new(true, groupId, 0);
    }

    /// <summary>Whether <paramref name="userId"/> is one of the two users of a one-to-one conversation.</summary>
    public bool HasUser(long userId) => !IsGroup && (First == userId || Second == userId);

    /// <summary>The other user of a one-to-one conversation.</summary>
    public long PeerOf(long userId) => !IsGroup && First == userId ? Second : !IsGroup && Second == userId ? First
        : throw new ArgumentException($"{userId} is not in {this}");

    public static bool TryParse([NotNullWhen(true)] string? text, out ConversationId id)
    {
        id = default;
        if (text is null || text.Length is < 3 or > MaxLength || text[1] != '_')
            return false;
        var rest = text.AsSpan(2);
        if (text[0] == 'g')
        {
            if (!TryParseId(rest, out var group))
                return false;
            id = new(true, group, 0);
            return true;
        }
        if (text[0] != 's')
            return false;
        var separator = rest.IndexOf('_');
        if (separator < 0 || !TryParseId(rest[..separator], out var a) || !TryParseId(rest[(separator + 1)..], out var b) || a >= b)
            return false;
        id = new(false, a, b);
        return true;
    }

    /// <summary>A positive id in plain decimal, without sign, spaces or leading zeros.</summary>
    private static bool TryParseId(ReadOnlySpan<char> digits, out long value)
    {
        value = 0;
        return digits.Length is > 0 and <= 19 && digits[0] is >= '1' and <= '9'
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;
    }

    public override string ToString() => IsGroup
        ? string.Create(CultureInfo.InvariantCulture, $"g_{First}")
        : string.Create(CultureInfo.InvariantCulture, $"s_{First}_{Second}");
}
