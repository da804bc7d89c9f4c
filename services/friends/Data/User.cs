namespace EasyIm.Friends.Data;

/// <summary>
/// The friends service's projection of auth's users: what search, friend lists and member
/// lists show. Fed by <c>UserRegistered</c>, and by asking auth when a user is missing.
/// </summary>
public sealed class User
{
    public long Id { get; set; }
    public required string Account { get; set; }
    /// <summary>Lower-cased account: search is case-insensitive, and SQLite's lower() only folds ASCII.</summary>
    public required string AccountKey { get; set; }
    public required string Nickname { get; set; }
    /// <summary>Lower-cased nickname, for the same reason.</summary>
    public required string NicknameKey { get; set; }
    public required string Avatar { get; set; }

    public static string Key(string text) => text.ToLowerInvariant();
}
