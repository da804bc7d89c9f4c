namespace EasyIm.Friends.Data;

/// <summary><see cref="UserId"/> blocks <see cref="BlockedId"/>: one row per block, deleted when it is lifted.</summary>
public sealed class Block
{
    public long UserId { get; set; }
    public long BlockedId { get; set; }
    public long CreatedAtMs { get; set; }
}
