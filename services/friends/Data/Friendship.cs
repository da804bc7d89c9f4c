namespace EasyIm.Friends.Data;

/// <summary>One row per direction: a friendship of A and B is (A, B) and (B, A), so "my friends" is one index range.</summary>
public sealed class Friendship
{
    public long UserId { get; set; }
    public long FriendId { get; set; }
    /// <summary>What the user calls this friend; empty until set.</summary>
    public string Remark { get; set; } = "";
    public long CreatedAtMs { get; set; }
}
