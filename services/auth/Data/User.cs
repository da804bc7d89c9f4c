namespace EasyIm.Auth.Data;

public sealed class User
{
    public const string DefaultAvatar = "/static/avatar.svg";

    public long Id { get; set; }
    /// <summary>As the user typed it.</summary>
    public required string Account { get; set; }
    /// <summary>Lower-cased account, unique: accounts differ by more than case.</summary>
    public required string AccountKey { get; set; }
    public required string Nickname { get; set; }
    public string Avatar { get; set; } = DefaultAvatar;
    public string? Mobile { get; set; }
    public string? Email { get; set; }
    public required string PasswordHash { get; set; }
    /// <summary>Every token carries the version it was issued under; bumping it revokes them all.</summary>
    public int TokenVersion { get; set; }
    public long CreatedAtMs { get; set; }
}
