namespace EasyIm.Contracts.Friends;

/// <summary>
/// The input rules for friends and groups, shared by the gateway (to answer early and name the
/// field) and the friends service (which never trusts its callers). Field names are the HTTP API's.
/// </summary>
public static class FriendRules
{
    public const int MessageMaxLength = 256;
    public const int GroupNameMaxLength = 64;
    public const int KeywordMaxLength = 64;
    /// <summary>Most ids one create or invite may name.</summary>
    public const int MaxIdsPerCall = 200;
    public const int DefaultSearchLimit = 20;
    public const int MaxSearchLimit = 50;

    /// <summary>
    /// A friend request's note: at most <see cref="MessageMaxLength"/> characters of storable text
    /// (<see cref="TextRules"/>); line breaks and tabs are fine, other control characters are not.
    /// </summary>
    public static (string Field, string Message)? CheckMessage(string? message)
    {
        if (message is null)
            return null;
        if (message.Length > MessageMaxLength)
            return ("msg", $"msg must be at most {MessageMaxLength} characters");
        return TextRules.Check(message, "msg") ?? CheckNoControl(message, "msg", allowLineBreaks: true);
    }

    /// <summary>A group name is 1-64 characters once trimmed, without control characters.</summary>
    public static (string Field, string Message)? CheckGroupName(string? name)
    {
        var trimmed = name?.Trim();
        if (string.IsNullOrEmpty(trimmed))
            return ("name", "name is required");
        if (trimmed.Length > GroupNameMaxLength)
            return ("name", $"name must be at most {GroupNameMaxLength} characters");
        if (trimmed.Any(char.IsControl))
            return ("name", "name must not contain control characters");
        return TextRules.Check(trimmed, "name");
    }

    public static (string Field, string Message)? CheckKeyword(string? keyword)
    {
        var trimmed = keyword?.Trim();
        if (string.IsNullOrEmpty(trimmed))
            return ("keyword", "keyword is required");
        if (trimmed.Length > KeywordMaxLength)
            return ("keyword", $"keyword must be at most {KeywordMaxLength} characters");
        return TextRules.Check(trimmed, "keyword") ?? CheckNoControl(trimmed, "keyword", allowLineBreaks: false);
    }

    /// <summary>No control characters (escape sequences, bells, ...) but, where <paramref name="allowLineBreaks"/>, line breaks and tabs.</summary>
    public static (string Field, string Message)? CheckNoControl(string text, string field, bool allowLineBreaks)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsControl(c) && !(allowLineBreaks && c is '\n' or '\r' or '\t'))
                return (field, $"{field} must not contain control characters (U+{(int)c:X4} at {i})");
        }
        return null;
    }

    /// <summary>A list of user ids: at most <see cref="MaxIdsPerCall"/>, and at least one when <paramref name="required"/>.</summary>
    public static (string Field, string Message)? CheckIds(IReadOnlyCollection<long>? ids, string field, bool required)
    {
        if (required && (ids is null || ids.Count == 0))
            return (field, $"{field} must list at least one id");
        if (ids is null)
            return null;
        if (ids.Count > MaxIdsPerCall)
            return (field, $"{field} may hold at most {MaxIdsPerCall} ids");
        if (ids.Any(id => id <= 0))
            return (field, $"{field} must hold only positive ids");
        return null;
    }
}
