"""The dataset stages in data-flow order: manifest → download → crop → split → stats (plus the frozen cross pairs)."""
